// The fixture builder, checked from the host side (sfdisk, blkid, qemu-img, debugfs, rpm): every
// image is built cold into a private cache dir, and each planted fact is read back from the bytes.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GARBAGE_BYTES, GARBAGE_SEED, seededBytes } from '../fixtures/broken.js';
import { debVersion } from '../fixtures/dpkg.js';
import {
  FIXTURE_NAMES,
  HOST_FIXTURE_NAMES,
  builderHash,
  createOverlay,
  factsOnDisk,
  getFixture,
  loadFixture,
  type LoadedFixture,
} from '../fixtures/index.js';
import {
  dumpGuestFile,
  probeFilesystem,
  readGuestFile,
  readPartitionTable,
  statGuestPath,
} from '../fixtures/inspect-image.js';
import { acquireBuildLock } from '../fixtures/lock.js';
import type { OsFacts } from '../fixtures/types.js';
import { DEBIAN_UPDATE_CHANGES } from '../fixtures/variants.js';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;

let cacheDir: string;
let scratch: string;
let coldMs: number;
const fx: Record<string, LoadedFixture> = {};
const OS_FIXTURES = [
  'debian-like',
  'ubuntu-like',
  'rhel-like',
  'multi-os',
  'debian-like-updated',
  'debian-like-vmdk',
  'ubuntu-like-vdi',
];
/** Raw copy of each OS fixture, and the byte offset of each root filesystem device in it. */
const raws: Record<string, string> = {};
const offsets: Record<string, Record<string, number>> = {};

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'guestkit-fixtures-'));
  scratch = await mkdtemp(join(tmpdir(), 'guestkit-fixtures-scratch-'));
  // A copy left by an older builder: must be pruned when the current one is built.
  await mkdir(join(cacheDir, 'debian-like-000000000000'));
  const started = performance.now();
  const built = await Promise.all(HOST_FIXTURE_NAMES.map((n) => loadFixture(n, { cacheDir })));
  coldMs = performance.now() - started;
  for (const f of built) fx[f.name] = f;

  for (const name of OS_FIXTURES) {
    const f = fx[name];
    let raw = f.path;
    if (f.format !== 'raw') {
      raw = join(scratch, `${name}.raw`);
      await execFileP('qemu-img', ['convert', '-f', f.format, '-O', 'raw', f.path, raw]);
    }
    raws[name] = raw;
    const table = await readPartitionTable(raw);
    offsets[name] = { '/dev/sda': 0 };
    table?.partitions.forEach((p, i) => (offsets[name][`/dev/sda${i + 1}`] = p.start * 512));
  }
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

describe('fixture builder', () => {
  it('builds every host-built fixture cold, with facts.json beside each image', async () => {
    // Speed is reported, not asserted (timed assertions fail on loaded machines, not on slow code).
    console.info(`fixtures: cold build of ${HOST_FIXTURE_NAMES.length} images took ${coldMs} ms`);
    const hash = await builderHash();
    for (const name of HOST_FIXTURE_NAMES) {
      const f = fx[name];
      expect(f.fromCache).toBe(false);
      expect(f.path).toBe(join(cacheDir, `${name}-${hash}`, f.path.split('/').at(-1)!));
      const onDisk = JSON.parse(await readFile(join(cacheDir, `${name}-${hash}`, 'facts.json'), 'utf8'));
      expect(onDisk).toEqual(f.facts);
      const { stdout } = await execFileP('qemu-img', ['info', '--output=json', f.path]);
      const info = JSON.parse(stdout) as { format: string; 'virtual-size': number };
      expect(info.format).toBe(f.format);
      expect(info['virtual-size']).toBe(f.facts.virtualSizeBytes);
    }
  });

  it('debian-like: MBR with an ext4 root and a swap partition matching facts and fstab', async () => {
    const os = fx['debian-like'].os!;
    const table = await readPartitionTable(fx['debian-like'].path);
    expect(table?.label).toBe('dos');
    expect(table?.partitions.map((p) => [p.start * 512, p.type])).toEqual([
      [1 * MiB, '83'],
      [55 * MiB, '82'],
    ]);
    const [rootFs, swapFs] = os.filesystems;
    expect(await probeFilesystem(fx['debian-like'].path, 1 * MiB)).toMatchObject({
      TYPE: 'ext4',
      UUID: rootFs.uuid,
      LABEL: rootFs.label,
    });
    expect(await probeFilesystem(fx['debian-like'].path, 55 * MiB)).toMatchObject({
      TYPE: 'swap',
      UUID: swapFs.uuid,
    });
    expect(os.fstab.map((e) => e.spec)).toEqual([`UUID=${rootFs.uuid}`, `UUID=${swapFs.uuid}`]);
  });

  it('ubuntu-like: one ext4 filesystem over the whole disk, no partition table', async () => {
    const os = fx['ubuntu-like'].os!;
    expect(await readPartitionTable(fx['ubuntu-like'].path)).toBeNull();
    expect(await probeFilesystem(fx['ubuntu-like'].path, 0)).toMatchObject({
      TYPE: 'ext4',
      UUID: os.filesystems[0].uuid,
    });
  });

  it('rhel-like: qcow2 holding GPT /boot + root and an rpm database rpm can read', async () => {
    const os = fx['rhel-like'].os!;
    const table = await readPartitionTable(raws['rhel-like']);
    expect(table?.label).toBe('gpt');
    expect(table?.partitions.map((p) => p.start * 512)).toEqual([1 * MiB, 25 * MiB]);
    const boot = await probeFilesystem(raws['rhel-like'], 1 * MiB);
    expect(boot.UUID).toBe(os.filesystems[0].uuid);
    const grub = await readGuestFile(raws['rhel-like'], 1 * MiB, '/grub2/grub.cfg');
    expect(grub).toContain(`vmlinuz-${os.kernels[0]}`);

    const dbDir = join(scratch, 'rpmdb');
    await mkdir(dbDir);
    await dumpGuestFile(
      raws['rhel-like'],
      offsets['rhel-like']['/dev/sda2'],
      '/var/lib/rpm/rpmdb.sqlite',
      join(dbDir, 'rpmdb.sqlite'),
    );
    const { stdout } = await execFileP('rpm', [
      '-qa',
      '--dbpath',
      dbDir,
      '--define',
      '_db_backend sqlite',
      '--qf',
      '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}\\n',
    ]);
    const got = stdout.trim().split('\n').sort();
    const want = os.packages.map((p) => `${p.name} ${p.epoch} ${p.version} ${p.release} ${p.arch}`).sort();
    expect(got).toEqual(want);
    const macros = await readGuestFile(
      raws['rhel-like'],
      offsets['rhel-like']['/dev/sda2'],
      '/usr/lib/rpm/macros',
    );
    expect(macros).toMatch(/%_db_backend\s+sqlite/);
  });

  it.each(OS_FIXTURES)('%s: the guest files say what the facts say', async (name) => {
    expect(fx[name].facts.oses.length).toBeGreaterThan(0);
    for (const os of fx[name].facts.oses) {
      const raw = raws[name];
      const offset = offsets[name][os.root];
      expect(offset, os.root).toBeDefined();
      const read = (p: string) => readGuestFile(raw, offset, p);
      const st = (p: string) => statGuestPath(raw, offset, p);

      expect((await read('/etc/hostname')).trim()).toBe(os.hostname);
      expect((await read('/etc/machine-id')).trim()).toBe(os.machineId);
      expect((await st('/etc/os-release'))?.linkTarget).toBe('../usr/lib/os-release');
      const osRelease = await read('/usr/lib/os-release');
      expect(osRelease).toContain(`VERSION_ID="${os.versionId}"`);
      expect(osRelease).toContain(`PRETTY_NAME="${os.prettyName}"`);
      expect((await st('/bin'))?.linkTarget).toBe('usr/bin');
      // x86_64 ELF: libguestfs derives the guest arch from it.
      const elf = join(scratch, `${name}-${os.distro}-ls`);
      await dumpGuestFile(raw, offset, '/usr/bin/ls', elf);
      const head = (await readFile(elf)).subarray(0, 20);
      expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(head.readUInt16LE(18)).toBe(0x3e);

      const fstab = await read('/etc/fstab');
      for (const e of os.fstab)
        expect(fstab).toMatch(new RegExp(`^${e.spec}\\s+${e.mountpoint}\\s+${e.type}\\s`, 'm'));
      expect(os.fstabByDeviceName).toBe(os.fstab.some((e) => /^\/dev\/[shv]d/.test(e.spec)));

      const passwd = (await read('/etc/passwd')).trim().split('\n');
      expect(passwd.map((l) => l.split(':')[0])).toEqual(os.users.map((u) => u.name));
      const uid0 = passwd.filter((l) => l.split(':')[2] === '0').map((l) => l.split(':')[0]);
      expect(uid0.filter((n) => n !== 'root')).toEqual(os.security.extraUid0Users);
      const shadow = (await read('/etc/shadow')).trim().split('\n');
      expect(shadow.filter((l) => l.split(':')[1] === '').map((l) => l.split(':')[0])).toEqual(
        os.security.emptyPasswordUsers,
      );
      const shadowStat = await st('/etc/shadow');
      expect(shadowStat?.uid).toBe(0);
      expect(shadowStat?.mode.toString(8).slice(-3)).toMatch(/^6[04]0$/);

      expect(await read('/etc/login.defs')).toMatch(
        new RegExp(`^PASS_MAX_DAYS\\s+${os.security.passMaxDays}$`, 'm'),
      );
      const sshd = await read('/etc/ssh/sshd_config');
      expect(sshd).toMatch(new RegExp(`^PermitRootLogin ${os.security.ssh.permitRootLogin}$`, 'm'));
      expect(sshd).toMatch(
        new RegExp(`^PasswordAuthentication ${os.security.ssh.passwordAuthentication ? 'yes' : 'no'}$`, 'm'),
      );
      const tmp = await st('/tmp');
      expect(Boolean((tmp?.mode ?? 0) & 0o1000)).toBe(os.security.tmpSticky);
      for (const f of os.security.worldWritableEtc) expect((await st(f))!.mode & 0o002).toBe(0o002);
      expect((await st('/etc/passwd'))!.mode & 0o002).toBe(0);

      for (const unit of os.enabledServices) {
        const link = await st(`/etc/systemd/system/multi-user.target.wants/${unit}`);
        expect(link?.linkTarget, unit).toMatch(new RegExp(`/systemd/system/${unit.replace('.', '\\.')}$`));
      }
      for (const ver of os.kernels) {
        expect(await st(`/usr/lib/modules/${ver}`), ver).not.toBeNull();
        const dep = await read(`/usr/lib/modules/${ver}/modules.dep`);
        expect(/virtio_blk\.ko/.test(dep)).toBe(os.virtioModules);
      }
      for (const db of os.databases) {
        expect(await st(db.configPath), db.configPath).not.toBeNull();
        expect((await st(db.dataDir))?.type).toBe('directory');
        expect(os.packages.some((p) => p.name === db.package)).toBe(true);
      }
      expect((await st('/etc/cloud/cloud.cfg')) !== null).toBe(os.cloudInit);

      if (os.packageFormat === 'deb') {
        const status = await read('/var/lib/dpkg/status');
        const stanzas = status.split('\n\n').filter((s) => s.trim());
        expect(stanzas).toHaveLength(os.packages.length);
        for (const p of os.packages) expect(status).toContain(`Package: ${p.name}\n`);
        for (const p of os.packages) expect(status).toContain(`Version: ${debVersion(p)}\n`);
        expect(status.endsWith('\n\n')).toBe(true);
      }
      if (os.security.selinux) {
        expect(await read('/etc/selinux/config')).toMatch(
          new RegExp(`^SELINUX=${os.security.selinux}$`, 'm'),
        );
      }
    }
  });

  it('multi-os: two roots on one MBR disk, each found by its own UUID', async () => {
    const f = fx['multi-os'];
    expect(f.facts.oses.map((o) => [o.distro, o.root])).toEqual([
      ['debian', '/dev/sda1'],
      ['ubuntu', '/dev/sda2'],
    ]);
    for (const os of f.facts.oses) {
      const probe = await probeFilesystem(f.path, offsets['multi-os'][os.root]);
      expect(probe).toMatchObject({
        TYPE: 'ext4',
        UUID: os.filesystems[0].uuid,
        LABEL: os.filesystems[0].label,
      });
    }
  });

  it('debian-like-updated differs from debian-like exactly as DEBIAN_UPDATE_CHANGES says', () => {
    const before: OsFacts = fx['debian-like'].os!;
    const after: OsFacts = fx['debian-like-updated'].os!;
    const versions = (os: OsFacts) => new Map(os.packages.map((p) => [p.name, debVersion(p)]));
    const [a, b] = [versions(before), versions(after)];
    expect([...b.keys()].filter((n) => !a.has(n))).toEqual(DEBIAN_UPDATE_CHANGES.added);
    expect([...a.keys()].filter((n) => !b.has(n))).toEqual(DEBIAN_UPDATE_CHANGES.removed);
    expect([...a.keys()].filter((n) => b.has(n) && a.get(n) !== b.get(n)).sort()).toEqual(
      DEBIAN_UPDATE_CHANGES.changed,
    );
    expect(after.enabledServices.filter((u) => !before.enabledServices.includes(u))).toEqual(
      DEBIAN_UPDATE_CHANGES.servicesEnabled,
    );
    expect(after.users.map((u) => u.name).filter((n) => !before.users.some((u) => u.name === n))).toEqual(
      DEBIAN_UPDATE_CHANGES.usersAdded,
    );
    // Distinct UUIDs: both disks can sit in one appliance without fstab resolving to the wrong one.
    expect(after.filesystems.map((x) => x.uuid)).not.toEqual(before.filesystems.map((x) => x.uuid));
    expect(factsOnDisk(after, 1)).toMatchObject({ root: '/dev/sdb1', mountpoints: { '/': '/dev/sdb1' } });
  });

  it('broken fixtures are broken the way their facts say', async () => {
    expect(fx.corrupt.facts.defect).toBe('corrupt-qcow2-tables');
    const check = await execFileP('qemu-img', ['check', fx.corrupt.path]).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    expect(check).not.toBe(0);

    const garbage = await readFile(fx.garbage.path);
    expect(garbage.length).toBe(GARBAGE_BYTES);
    expect(garbage.subarray(0, 64)).toEqual(seededBytes(GARBAGE_SEED, 64));
    expect(await readPartitionTable(fx.garbage.path)).toBeNull();

    expect((await stat(fx.empty.path)).size).toBe(0);
  });

  it('reuses the cache, prunes copies from older builders, and survives concurrent builders', async () => {
    const before = await stat(fx['debian-like'].path);
    const again = await loadFixture('debian-like', { cacheDir });
    expect(again.fromCache).toBe(true);
    expect(again.path).toBe(fx['debian-like'].path);
    expect((await stat(again.path)).mtimeMs).toBe(before.mtimeMs);
    expect(await readdir(cacheDir)).not.toContain('debian-like-000000000000');

    const fresh = join(scratch, 'race');
    const racers = await Promise.all([1, 2, 3].map(() => loadFixture('rhel-like', { cacheDir: fresh })));
    expect(new Set(racers.map((r) => r.path)).size).toBe(1);
    expect(await readdir(fresh)).toEqual([`rhel-like-${await builderHash()}`]);
  });

  it('an overlay takes writes without touching the cached image', async () => {
    const before = await readFile(fx['ubuntu-like'].path);
    const overlay = await createOverlay(fx['ubuntu-like'], scratch);
    const { stdout } = await execFileP('qemu-img', ['info', '--output=json', overlay]);
    expect(JSON.parse(stdout)).toMatchObject({ format: 'qcow2', 'backing-filename': fx['ubuntu-like'].path });
    await execFileP('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', overlay]);
    expect((await readFile(fx['ubuntu-like'].path)).equals(before)).toBe(true);
    const { stdout: cmp } = await execFileP('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x5a 0 1M', overlay]);
    expect(cmp).not.toContain('Pattern verification failed');
  });

  it('the appliance build lock makes later builders wait, and a dead owner does not block', async () => {
    const lock = join(scratch, '.lock-test');
    let finished = false;
    const first = await acquireBuildLock(lock, async () => finished);
    expect(first).not.toBeNull();
    const second = acquireBuildLock(lock, async () => finished);
    await new Promise((r) => setTimeout(r, 700));
    finished = true;
    expect(await second).toBeNull();
    await first!();

    await writeFile(lock, '2147483646'); // a pid that cannot be running
    const third = await acquireBuildLock(lock, async () => false);
    expect(third).not.toBeNull();
    expect((await readFile(lock, 'utf8')).trim()).toBe(String(process.pid));
    await third!();
  });

  it('getFixture memoizes per process and rejects unknown names with a code', async () => {
    const saved = process.env.GUESTKIT_FIXTURES_DIR;
    process.env.GUESTKIT_FIXTURES_DIR = cacheDir;
    try {
      const a = getFixture('empty');
      expect(getFixture('empty')).toBe(a);
      expect((await a).path).toBe(fx.empty.path);
      // Only the LVM guest needs an appliance to build; everything else stays host-only and fast.
      expect(FIXTURE_NAMES.filter((n) => !HOST_FIXTURE_NAMES.includes(n))).toEqual(['rhel-lvm']);
      await expect(getFixture('windows-xp')).rejects.toMatchObject({ code: 'FIXTURE_UNKNOWN' });
    } finally {
      if (saved === undefined) delete process.env.GUESTKIT_FIXTURES_DIR;
      else process.env.GUESTKIT_FIXTURES_DIR = saved;
    }
  });
});

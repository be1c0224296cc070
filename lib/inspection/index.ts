// Fast Linux inspection: the answers of inspect_os for the guests it understands, at a fraction of
// its cost. Under TCG inspect_os spends ~5 s per disk mostly on helper processes (a `udevadm
// settle` and a partition-table tool per partition in list_filesystems, then Augeas compiling its
// fstab lens per root); this reads the same facts from superblocks (blkid only for the unusual) and a few file
// reads per root. When anything falls outside the rules followed here (other filesystems or
// operating systems, md/LUKS/btrfs, unknown distributions, odd fstab names) it answers undefined
// and the caller runs inspect_os itself, so no guest is ever described by a guess.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestfsApplication2 } from '../generated/actions.js';
import { diskOfDevice } from '../devices.js';
import { GuestfsError, type Guestfs } from '../guestfs.js';
import { parseFstab, resolveFstab, type BlockDevice, type ResolvedFstab } from './fstab.js';
import { hostnameOf, identifyLinux, RELEASE_FILES, type OsFacts } from './release.js';
import type { BlockCache } from './blocks.js';
import { PARTITION_TABLE_BYTES, readPartitionTable, type PartitionTable } from './partitions.js';
import { readSignature, SIGNATURE_BYTES } from './signature.js';

export type { OsFacts } from './release.js';
export { BlockView, type BlockCache } from './blocks.js';
import { parseDpkgStatus, readRpmSqlite } from './packages.js';

export { parseDpkgStatus, parseRpmHeader, readRpmSqlite } from './packages.js';

/** Where each package format keeps the database the fast path reads (rpm: the sqlite backend). */
const PACKAGE_DATABASES: Record<string, string> = {
  deb: '/var/lib/dpkg/status',
  rpm: '/var/lib/rpm/rpmdb.sqlite',
};

/** One root found by {@link inspectLinux}, with what inspect_get_* would say of it. */
export interface RootInspection {
  root: string;
  facts: OsFacts;
  /** inspect_get_mountpoints: mountpoint → mountable. */
  mountpoints: Record<string, string>;
  /** inspect_get_filesystems, in fstab order. */
  filesystems: string[];
}

/** Filesystems checked for an operating system; anything else with a signature sends us to inspect_os. */
const MOUNTABLE = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'vfat']);
/** Signatures that hold no filesystem of their own (LVM PVs are seen through their LVs). */
const SKIPPED = new Set(['', 'LVM2_member', 'swap']);
const ARCH_BINARIES = ['/bin/bash', '/bin/ls', '/bin/echo', '/bin/rm', '/bin/sh'];
/** Top-level names libguestfs looks at for other OSes or for a separate /usr (lower-cased). */
const FOREIGN = [
  'hurd',
  'netbsd',
  'bsd',
  'service',
  'windows',
  'winnt',
  'program files',
  'boot.ini',
  'ntldr',
  'bootmgr',
  'io.sys',
  'msdos.sys',
  'kernel.sys',
  'freedos',
];

class Unsupported extends Error {}

const blkid = (g: Guestfs, device: string) => g.blkid(device).catch(() => ({}) as Record<string, string>);

/** blkid's TYPE/UUID/LABEL of a device, from its superblock when it is a common one. */
async function probe(g: Guestfs, device: string): Promise<Record<string, string>> {
  const head = await g.preadDevice(device, SIGNATURE_BYTES, 0).catch(() => Buffer.alloc(0));
  const sig = readSignature(head);
  if (!sig) return blkid(g, device);
  const out: Record<string, string> = { TYPE: sig.type };
  if (sig.uuid) out.UUID = sig.uuid;
  if (sig.label) out.LABEL = sig.label;
  return out;
}

/** The appliance disk a device is on, as a list (empty for LVs and other names). */
function diskOf(device: string, devices: readonly string[]): string[] {
  const disk = diskOfDevice(device);
  return devices.includes(disk) ? [disk] : [];
}

type Listing = Map<string, string>;

async function listing(g: Guestfs, dir: string): Promise<Listing> {
  const entries = await g.readdir(dir);
  return new Map(entries.filter((e) => e.name !== '.' && e.name !== '..').map((e) => [e.name, e.ftyp]));
}

/** Small files by pread: read_file and cat cost ~100 ms each under TCG, pread under 1 ms. */
async function readText(g: Guestfs, path: string): Promise<string | undefined> {
  try {
    return (await g.pread(path, 1024 * 1024, 0)).toString('utf8');
  } catch {
    return undefined;
  }
}

/** ELF e_machine → libguestfs' architecture name, for the common ones (others ask `file`). */
const ELF_MACHINES: Record<number, string> = { 3: 'i386', 62: 'x86_64', 183: 'aarch64' };

async function elfArchitecture(g: Guestfs, path: string): Promise<string> {
  const h = await g.pread(path, 64, 0);
  const little = h[5] === 1;
  const machine =
    h.length >= 20 && h.toString('latin1', 0, 4) === '\x7fELF' && little ? h.readUInt16LE(18) : -1;
  return ELF_MACHINES[machine] ?? (await g.fileArchitecture(path));
}

/** What the mounted filesystem is: a Linux root, something else, or beyond these rules. */
async function role(g: Guestfs, top: Listing): Promise<Listing | 'other'> {
  const names = [...top.keys()].map((n) => n.toLowerCase());
  if (names.some((n) => FOREIGN.includes(n))) throw new Unsupported('another OS or layout');
  const dir = (n: string) => top.get(n) === 'd';
  if (dir('grub') && ((await g.isFile('/grub/menu.lst')) || (await g.isFile('/grub/grub.conf'))))
    return 'other';
  if (dir('grub2') && (await g.isFile('/grub2/grub.cfg'))) return 'other';
  const bin = dir('bin') || (top.get('bin') === 'l' && (await g.readlink('/bin')) === 'usr/bin');
  if (dir('etc') && bin) {
    const etc = await listing(g, '/etc');
    if (etc.has('freebsd-update.conf') || etc.has('coreos')) throw new Unsupported('BSD or CoreOS');
    if (etc.get('fstab') === 'r' || etc.get('hosts') === 'r') return etc;
  }
  if (dir('bin') && dir('share')) throw new Unsupported('a separate /usr');
  return 'other';
}

async function architecture(g: Guestfs): Promise<string> {
  for (const bin of ARCH_BINARIES) {
    if (!(await g.isFile(bin, { followsymlinks: true }))) continue;
    try {
      return await elfArchitecture(g, await g.realpath(bin));
    } catch {
      // libguestfs tries the next binary
    }
  }
  return 'unknown';
}

interface Context {
  devices: string[];
  blocks: BlockDevice[];
  lvs: Set<string>;
}

async function linuxRoot(g: Guestfs, root: string, etc: Listing, ctx: Context): Promise<RootInspection> {
  const files = new Map<string, string>();
  const wanted = [
    ...RELEASE_FILES,
    '/etc/HOSTNAME',
    '/etc/hostname',
    '/etc/sysconfig/network',
    '/etc/fstab',
    '/etc/crypttab',
  ];
  for (const path of wanted) {
    // The /etc listing rules most out without a round trip.
    if (!etc.has(path.split('/')[2]) || !(await g.isFile(path, { followsymlinks: true }))) continue;
    const text = await readText(g, path);
    if (text !== undefined) files.set(path, text);
  }
  const identity = identifyLinux(files);
  if (!identity) throw new Unsupported(`distribution of ${root}`);
  if (/^\s*[^#\s]/m.test(files.get('/etc/crypttab') ?? '')) throw new Unsupported('encrypted volumes');
  const rootDisks = diskOf(root, ctx.devices);
  const entries = parseFstab(files.get('/etc/fstab') ?? '');
  const fstab: ResolvedFstab | undefined =
    entries &&
    resolveFstab(entries, { root, rootDisks, devices: ctx.devices, blocks: ctx.blocks, lvs: ctx.lvs });
  if (!fstab) throw new Unsupported(`fstab of ${root}`);
  const db = PACKAGE_DATABASES[identity.package_format];
  // Without it libguestfs would answer differently (an error, or librpm's other backends).
  if (!(await g.isFile(db, { followsymlinks: true }))) throw new Unsupported(`no ${db} in ${root}`);
  // Fedora 22+ says dnf only when dnf is installed (libguestfs checks the binary).
  if (identity.distro === 'fedora' && identity.package_management === 'dnf') {
    if (!(await g.isFile('/usr/bin/dnf', { followsymlinks: true }))) identity.package_management = 'yum';
  }
  const facts: OsFacts = {
    type: 'linux',
    ...identity,
    product_variant: 'unknown',
    hostname: hostnameOf(files),
    arch: await architecture(g),
  };
  // No fstab entries: libguestfs reports the root alone.
  const resolved: ResolvedFstab = fstab.length > 0 ? fstab : [[root, '/']];
  const mountpoints: Record<string, string> = {};
  for (const [m, mp] of resolved) if (mp.startsWith('/')) mountpoints[mp] = m;
  return { root, facts, mountpoints, filesystems: resolved.map(([m]) => m) };
}

/**
 * inspect_os for guests made only of ext2/3/4, xfs, vfat and swap (on partitions, bare disks
 * or LVM) holding Debian, Ubuntu, Fedora, RHEL, CentOS or Rocky roots; undefined for anything
 * else (call inspect_os then). Leaves nothing mounted.
 */
export async function inspectLinux(g: Guestfs): Promise<RootInspection[] | undefined> {
  return (await inspectAppliance(g))?.roots;
}

/** A disk's partition table, kept only when it names exactly the partitions the kernel sees. */
async function partitionTable(
  g: Guestfs,
  disk: string,
  partitions: readonly string[],
): Promise<PartitionTable | undefined> {
  const table = readPartitionTable(
    await g.preadDevice(disk, PARTITION_TABLE_BYTES, 0).catch(() => Buffer.alloc(0)),
  );
  const mine = partitions.filter((p) => diskOfDevice(p) === disk).sort();
  const named = table?.partitions.map((p) => `${disk}${p.number}`).sort();
  return named && named.join() === mine.join() ? table : undefined;
}

/**
 * {@link inspectLinux}, plus what it learned of the block devices on the way (for the report's
 * filesystem and storage sections).
 */
export async function inspectAppliance(
  g: Guestfs,
): Promise<{ roots: RootInspection[]; blocks: BlockCache } | undefined> {
  const [devices, partitions, lvs, mds] = await Promise.all([
    g.listDevices(),
    g.listPartitions(),
    g.lvs(),
    g.listMdDevices(),
  ]);
  if (mds.length > 0) return undefined;
  const bare = devices.filter((d) => !partitions.some((p) => diskOfDevice(p) === d));
  const candidates = [...partitions, ...bare, ...lvs];
  const [probed, tables] = await Promise.all([
    Promise.all(candidates.map((c) => probe(g, c))),
    Promise.all(devices.map((d) => (bare.includes(d) ? undefined : partitionTable(g, d, partitions)))),
  ]);
  const cache: BlockCache = { tags: new Map(), tables: new Map(), partitions, pvs: [] };
  for (const [i, d] of devices.entries()) if (tables[i]) cache.tables.set(d, tables[i]!);
  const blocks: BlockDevice[] = [];
  const mountable: string[] = [];
  for (const [i, device] of candidates.entries()) {
    const b = probed[i];
    const type = b.TYPE ?? '';
    if (type !== '') cache.tags.set(device, b);
    if (type === 'LVM2_member') cache.pvs.push(device);
    if (!MOUNTABLE.has(type) && !SKIPPED.has(type)) return undefined;
    if (type === '' || type === 'LVM2_member') continue;
    blocks.push({
      device,
      disks: diskOf(device, devices),
      uuid: b.UUID,
      label: b.LABEL,
    });
    if (type !== 'swap') mountable.push(device);
  }
  const ctx: Context = { devices, blocks, lvs: new Set(lvs) };
  const roots: RootInspection[] = [];
  await g.umountAll();
  try {
    for (const device of mountable) {
      try {
        await g.mountRo(device, '/');
      } catch {
        continue; // libguestfs skips what does not mount
      }
      try {
        const etc = await role(g, await listing(g, '/'));
        if (etc !== 'other') roots.push(await linuxRoot(g, device, etc, ctx));
      } finally {
        await g.umountAll();
      }
    }
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  // No root: inspect_os has the last word. Saying NO_OPERATING_SYSTEM on our own would turn any
  // probe or mount we could not do (skipped above, as libguestfs skips them) into a missing OS;
  // confirming costs one inspect_os, on disks that are an error for most operations anyway.
  if (roots.length === 0) return undefined;
  return { roots, blocks: cache };
}

/** libguestfs' own cap on a package database it copies out of a guest. */
const MAX_PACKAGE_DB_BYTES = 300 * 1024 * 1024;

/** Copies a guest file to the host unless it is larger than a package database can sensibly be. */
async function download(g: Guestfs, remote: string, local: string): Promise<void> {
  const size = (await g.statns(remote)).st_size;
  if (size > MAX_PACKAGE_DB_BYTES) {
    throw new GuestfsError(`${remote} is unreasonably large (${size} bytes)`, {
      code: 'EFBIG',
      errno: 27,
      action: 'inspect_list_applications2',
    });
  }
  await g.download(remote, local);
}

/** The inspect_get_* facts of a root inspect_os returned, asked of libguestfs. */
export async function osFacts(g: Guestfs, root: string): Promise<OsFacts> {
  const [type, distro, product, variant, major, minor, hostname, arch, format, management, osinfo] =
    await Promise.all([
      g.inspectGetType(root),
      g.inspectGetDistro(root),
      g.inspectGetProductName(root),
      g.inspectGetProductVariant(root),
      g.inspectGetMajorVersion(root),
      g.inspectGetMinorVersion(root),
      g.inspectGetHostname(root),
      g.inspectGetArch(root),
      g.inspectGetPackageFormat(root),
      g.inspectGetPackageManagement(root),
      g.inspectGetOsinfo(root),
    ]);
  return {
    type,
    distro,
    product_name: product,
    product_variant: variant,
    major_version: major,
    minor_version: minor,
    hostname,
    arch,
    package_format: format,
    package_management: management,
    osinfo,
  };
}

/**
 * Installed packages of a mounted root: read from its package database when `facts` come from
 * {@link inspectLinux} (which checked the database is there), else inspect_list_applications2.
 */
export async function installedApplications(
  g: Guestfs,
  root: string,
  facts: OsFacts | undefined,
): Promise<GuestfsApplication2[]> {
  const db = facts && PACKAGE_DATABASES[facts.package_format];
  if (!db) return g.inspectListApplications2(root);
  const dir = await mkdtemp(join(tmpdir(), 'guestkit-pkgdb-'));
  try {
    const local = join(dir, 'db');
    await download(g, db, local);
    if (facts.package_format === 'deb') {
      return parseDpkgStatus(await readFile(local, 'utf8'));
    }
    // A write-ahead log not yet folded into the database holds packages too.
    if (await g.isFile(`${db}-wal`)) await download(g, `${db}-wal`, `${local}-wal`);
    return await readRpmSqlite(local);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// One real appliance (three fixture disks + a scratch disk) serves every check here: inspection
// through the binding equals virt-inspector's XML for the same disks, each parameter and return
// kind makes a real call, events arrive during launch, and the addon's OpenSSL still hashes right
// after libguestfs (which loads the system libcrypto) is running.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../lib/checksum.js';
import { Guestfs, GuestfsError, type InspectedRoot } from '../../lib/index.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { qemuChildren } from './qemu-children.js';

const run = promisify(execFile);
const TCG_ENV = { ...process.env, LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' };

interface XmlApp {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}
interface XmlOs {
  root: string;
  fields: Record<string, string>;
  mountpoints: Record<string, string>;
  applications: XmlApp[];
}

const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '';
const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function parseInspectorXml(xml: string): XmlOs[] {
  return [...xml.matchAll(/<operatingsystem>([\s\S]*?)<\/operatingsystem>/g)].map(([, os]) => {
    const head = os!.split('<mountpoints>')[0]!;
    const fields: Record<string, string> = {};
    for (const f of [
      'name',
      'arch',
      'distro',
      'product_name',
      'major_version',
      'minor_version',
      'package_format',
      'package_management',
      'hostname',
      'osinfo',
    ]) {
      fields[f] = unescape(tag(head, f));
    }
    const mountpoints: Record<string, string> = {};
    for (const m of os!.matchAll(/<mountpoint dev="([^"]+)">([^<]+)<\/mountpoint>/g))
      mountpoints[m[2]!] = m[1]!;
    const applications = [...os!.matchAll(/<application>([\s\S]*?)<\/application>/g)].map(([, a]) => ({
      name: unescape(tag(a!, 'name')),
      epoch: Number(tag(a!, 'epoch') || 0),
      version: unescape(tag(a!, 'version')),
      release: unescape(tag(a!, 'release')),
      arch: unescape(tag(a!, 'arch')),
    }));
    return { root: tag(head, 'root'), fields, mountpoints, applications };
  });
}

describe('Guestfs against a real appliance', () => {
  let fixtures: Fixture[];
  let g: Guestfs;
  let expected: XmlOs[];
  let inspected: InspectedRoot[];
  const progress: { position: number; total: number }[] = [];
  let applianceMessages = 0;
  let launchDone = 0;

  beforeAll(async () => {
    fixtures = await getFixtures(['debian-like', 'rhel-like', 'multi-os']);
    g = new Guestfs({ verbose: true });
    g.on('progress', (p) => progress.push(p));
    g.on('appliance', () => applianceMessages++);
    g.on('launch_done', () => launchDone++);
    const inspector = run(
      'virt-inspector',
      fixtures.flatMap((f) => [`--format=${f.format}`, '-a', f.path]),
      { env: TCG_ENV, maxBuffer: 64 * 1024 * 1024 },
    );
    for (const f of fixtures) await g.addDrive(f.path, { readonly: true, format: f.format });
    await g.addDriveScratch(64 * 1024 * 1024, { label: 'scratch' });
    await g.launch();
    expected = parseInspectorXml((await inspector).stdout);
    inspected = await g.inspect();
  });

  afterAll(async () => {
    if (g && g.pending > 0) g.kill(); // a hook that timed out mid-launch: do not wait for it
    await g?.close();
    expect(qemuChildren()).toEqual([]);
  });

  it('delivers progress and appliance events during launch', () => {
    expect(launchDone).toBe(1);
    expect(applianceMessages).toBeGreaterThan(10);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p.position).toBeLessThanOrEqual(p.total);
  });

  it('inspects every root exactly as virt-inspector does', () => {
    expect(expected.length).toBe(4); // debian, rhel, and the two OSes of multi-os
    expect(inspected.map((r) => r.root).sort()).toEqual(expected.map((o) => o.root).sort());
    for (const want of expected) {
      const got = inspected.find((r) => r.root === want.root)!;
      expect({
        name: got.type,
        arch: got.arch,
        distro: got.distro,
        product_name: got.productName,
        major_version: String(got.majorVersion),
        minor_version: String(got.minorVersion),
        package_format: got.packageFormat,
        package_management: got.packageManagement,
        hostname: got.hostname,
        osinfo: got.osinfo,
      }).toEqual(want.fields);
      expect(got.mountpoints).toEqual(want.mountpoints);
      const apps = got.applications!.map((a) => ({
        name: a.name,
        epoch: a.epoch,
        version: a.version,
        release: a.release,
        arch: a.arch,
      }));
      const byName = (a: XmlApp, b: XmlApp) =>
        a.name.localeCompare(b.name) || a.version.localeCompare(b.version);
      expect(want.applications.length).toBeGreaterThan(5);
      expect(apps.sort(byName)).toEqual([...want.applications].sort(byName));
    }
    // And against the facts the fixture was built with.
    const debian = inspected.find((r) => r.root === '/dev/sda1')!;
    expect(debian.hostname).toBe(fixtures[0]!.facts.oses[0]!.hostname);
  });

  it('passes and returns every kind through real calls', async () => {
    const debian = inspected.find((r) => r.root === '/dev/sda1')!;
    // hashtable return
    expect(await g.inspectGetMountpoints('/dev/sda1')).toEqual({ '/': '/dev/sda1' });
    // string list return, bool return, string list argument
    expect(await g.availableAllGroups()).toContain('linuxfsuuid');
    expect(await g.featureAvailable(['linuxfsuuid'])).toBe(true);
    await expect(g.available(['no-such-group'])).rejects.toBeInstanceOf(GuestfsError);
    expect(Array.isArray(await g.lvs())).toBe(true);
    // const string and nullable const string returns
    expect(typeof (await g.getPath())).toBe('string');
    expect(await g.getAppend()).toBeNull();
    await g.withMountedRoot(debian.root, async () => {
      const text = await g.cat('/etc/hostname');
      const buf = await g.readFile('/etc/hostname'); // buffer return
      expect(Buffer.isBuffer(buf)).toBe(true);
      expect(buf.toString()).toBe(text);
      expect(text.trim()).toBe(debian.hostname);
      const st = await g.statns('/etc/hostname'); // struct return
      expect(st.st_size).toBe(BigInt(buf.length)); // 64-bit fields are bigints
      expect(await g.filesize('/etc/hostname')).toBe(BigInt(buf.length)); // int64 return: a bigint
      expect(await g.isDir('/etc', { followsymlinks: true })).toBe(true); // _opts form, bool optarg
      const entries = await g.readdir('/etc'); // struct list with char fields
      expect(entries.find((e) => e.name === 'hostname')?.ftyp).toBe('r');
      await expect(g.cat('/etc/no-such-file')).rejects.toMatchObject({ code: 'ENOENT', action: 'cat' });
      // 50 calls queued at once on a launched handle resolve in order.
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 ? g.exists(`/etc/f${i}`) : g.isFile('/etc/hostname')).then(() => order.push(i)),
        ),
      );
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });
  });

  it('writes a Buffer to the scratch disk and reads it back', async () => {
    const scratch = (await g.listDevices()).at(-1)!;
    await g.mkfs('ext4', scratch, { blocksize: 1024 }); // int optarg on an _opts action
    await g.mount(scratch, '/');
    try {
      const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256)); // binary, NULs included
      await g.write('/blob', bytes); // buffer argument
      expect(Buffer.compare(await g.readFile('/blob'), bytes)).toBe(0);
      const part = await g.pread('/blob', 16, 1000); // int and int64 arguments, buffer return
      expect(Buffer.compare(part, bytes.subarray(1000, 1016))).toBe(0);
      expect(await g.umask(0o22)).toBeTypeOf('number'); // int return
      const vfs = await g.statvfs('/');
      expect(vfs.bsize).toBe(1024n);
    } finally {
      await g.umountAll();
    }
  });

  it('hashes with the addon exactly like sha256sum while libguestfs is loaded and running', async () => {
    const image = fixtures[1]!.path;
    const [ours, theirs] = await Promise.all([sha256File(image), run('sha256sum', [image])]);
    expect(ours).toBe(theirs.stdout.split(' ')[0]);
  });
});

// The fast inspection against libguestfs itself, in one real appliance (launch 1): every distinct
// OS fixture (partitions, bare-disk filesystem, LVM, two OSes on one disk, raw and qcow2) must get
// exactly inspect_os' roots, inspect_get_* facts, mountpoints, filesystems and
// inspect_list_applications2 packages. Two clones of fixtures sit on the last drives: libguestfs
// resolves their fstab UUIDs to the originals' devices, the fast inspection to their own.
// Launch 2: a guest the fast path does not know (Arch) shares a pool appliance with debian-like:
// the pool falls back to inspect_os for both and the reports still come out right.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppliancePool } from '../../lib/appliance/index.js';
import type { GuestfsApplication2 } from '../../lib/generated/actions.js';
import { Guestfs } from '../../lib/guestfs.js';
import {
  BlockView,
  inspectAppliance,
  inspectLinux,
  installedApplications,
  osFacts,
  type RootInspection,
} from '../../lib/inspection/index.js';
import { collectReport } from '../../src/handlers/inspect/collect.js';
import { getFixture, getFixtures, type Fixture, type FixtureName } from '../fixtures/index.js';

const DISTINCT: FixtureName[] = [
  'debian-like',
  'ubuntu-like',
  'rhel-like',
  'multi-os',
  'debian-like-updated',
  'rhel-lvm',
  'rhel-like-permissive',
];
/** Clones (same filesystem UUIDs) of the first two, attached after them. */
const CLONES: [FixtureName, FixtureName][] = [
  ['debian-like-vmdk', 'debian-like'],
  ['ubuntu-like-vdi', 'ubuntu-like'],
];

let g: Guestfs;
let fixtures: Fixture[];
let devices: string[];
let fast: RootInspection[] | undefined;
const fastMs: number[] = [];
let libguestfsMs = 0;
let libguestfs: RootInspection[];

/** Runs fn with the root's filesystems mounted read-only (as list_applications2 needs them). */
async function mounted<T>(root: RootInspection, fn: () => Promise<T>): Promise<T> {
  // '/' is the root itself: an fstab naming /dev/sda means the guest's first disk, not ours.
  const order = Object.entries({ ...root.mountpoints, '/': root.root }).sort(
    ([a], [b]) => a.length - b.length,
  );
  try {
    for (const [mp, dev] of order) await g.mountRo(dev, mp);
    return await fn();
  } finally {
    await g.umountAll();
  }
}

const packages = (apps: GuestfsApplication2[]) =>
  apps.map(
    (a) =>
      `${a.app2_name} ${a.app2_epoch}:${a.app2_version}-${a.app2_release} ${a.app2_arch} ${a.app2_summary}`,
  );

/** The disk of a device, for comparing a clone's answers with its original's. */
const onDisk = (dev: string, from: string, to: string) =>
  dev.startsWith(from) ? to + dev.slice(from.length) : dev;

beforeAll(async () => {
  fixtures = await getFixtures([...DISTINCT, ...CLONES.map(([c]) => c)]);
  g = new Guestfs();
  for (const f of fixtures) await g.addDrive(f.path, { readonly: true, format: f.format });
  await g.launch();
  devices = await g.listDevices();
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    fast = await inspectLinux(g);
    fastMs.push(performance.now() - t);
  }
  const t = performance.now();
  libguestfs = await askLibguestfs();
  libguestfsMs = performance.now() - t;
}, 300_000);

/** inspect_os and what it says of each root. */
async function askLibguestfs(): Promise<RootInspection[]> {
  const roots = await g.inspectOs();
  return Promise.all(
    roots.map(async (root) => ({
      root,
      facts: await osFacts(g, root),
      mountpoints: await g.inspectGetMountpoints(root),
      filesystems: await g.inspectGetFilesystems(root),
    })),
  );
}

afterAll(async () => {
  g?.kill();
  await g?.close();
});

describe('fast inspection', () => {
  it('answers for every fixture guest (no fallback to inspect_os) and leaves nothing mounted', async () => {
    expect(fast).toBeDefined();
    expect(await g.mounts()).toEqual([]);
    // Both passes give the same answer; the timings go to the log, not into assertions.
    console.info(
      `fast inspection of ${fixtures.length} drives: ${fastMs.map(Math.round).join(' / ')} ms; inspect_os: ${Math.round(libguestfsMs)} ms`,
    );
  });

  it('finds exactly the roots of inspect_os on the distinct guests, with the same facts, mountpoints and filesystems', async () => {
    const cloneDisks = devices.slice(DISTINCT.length);
    const onDistinct = (r: RootInspection) => !cloneDisks.some((d) => r.root.startsWith(d));
    // libguestfs' blkid lookups may land on a clone's drive: read those back onto the original.
    const back = (r: RootInspection): RootInspection => {
      for (const [clone, original] of CLONES) {
        const from = devices[fixtures.findIndex((f) => f.name === clone)];
        const to = devices[fixtures.findIndex((f) => f.name === original)];
        if (!r.root.startsWith(to)) continue;
        const move = (d: string) => onDisk(d, from, to);
        return {
          ...r,
          filesystems: r.filesystems.map(move),
          mountpoints: Object.fromEntries(Object.entries(r.mountpoints).map(([mp, d]) => [mp, move(d)])),
        };
      }
      return r;
    };
    const norm = (roots: RootInspection[]) =>
      roots
        .filter(onDistinct)
        .map(back)
        .map((r) => ({ ...r, filesystems: [...r.filesystems].sort() }))
        .sort((a, b) => a.root.localeCompare(b.root));
    // Seen twice in ~12 full CI runs: inspect_os answered the bare-disk root of ubuntu-like with
    // mountpoints {"/": <its own device>} instead of the /dev/sda its fstab names (what it does when
    // it reads no fstab); every other run gave the fstab's entry. So the same question is put once
    // more on the same appliance before a difference counts: the fast answer must equal what
    // libguestfs answers when asked again, and the first answer is logged.
    if (!isDeepStrictEqual(norm(fast!), norm(libguestfs))) {
      const again = await askLibguestfs();
      console.warn(
        `inspect_os answered differently when asked again: ${!isDeepStrictEqual(norm(again), norm(libguestfs))}`,
      );
      libguestfs = again;
    }
    expect(norm(fast!)).toEqual(norm(libguestfs));
    expect(norm(fast!).length).toBeGreaterThanOrEqual(DISTINCT.length + 1); // multi-os has two
  }, 300_000);

  it('resolves a clone onto its own drive, where inspect_os would lend it the original', () => {
    for (const [clone, original] of CLONES) {
      const cloneDisk = devices[fixtures.findIndex((f) => f.name === clone)];
      const originalDisk = devices[fixtures.findIndex((f) => f.name === original)];
      const mine = fast!.filter((r) => r.root.startsWith(cloneDisk));
      const theirs = fast!.filter((r) => r.root.startsWith(originalDisk));
      expect(mine.length).toBe(theirs.length);
      for (const [i, r] of mine.entries()) {
        const o = theirs[i];
        expect(r.facts).toEqual(o.facts);
        expect(r.filesystems).toEqual(o.filesystems.map((d) => onDisk(d, originalDisk, cloneDisk)));
        // UUID=/LABEL= entries land on the clone's drive; guest device names (/dev/sda) stay as they are.
        expect(r.mountpoints).toEqual(
          Object.fromEntries(
            Object.entries(o.mountpoints).map(([mp, d]) => [mp, onDisk(d, originalDisk, cloneDisk)]),
          ),
        );
      }
    }
  });

  it('lists the same packages as inspect_list_applications2 for every root', async () => {
    for (const root of libguestfs) {
      const facts = fast!.find((r) => r.root === root.root)?.facts;
      if (!facts) continue; // a clone root libguestfs saw differently
      const [ours, theirs] = await mounted(root, async () => [
        await installedApplications(g, root.root, facts),
        await g.inspectListApplications2(root.root),
      ]);
      expect(ours.length, root.root).toBeGreaterThan(0);
      expect(packages(ours), root.root).toEqual(packages(theirs));
      expect(ours.map((a) => a.app2_url)).toEqual(theirs.map((a) => a.app2_url));
      expect(ours.map((a) => a.app2_description)).toEqual(theirs.map((a) => a.app2_description));
    }
  });
});

describe('block facts read on the way', () => {
  it('answer blkid, vfs_type, blockdev sizes, part_list, list_partitions and pvs as libguestfs does', async () => {
    const inspected = await inspectAppliance(g);
    const view = new BlockView(g, inspected!.blocks);
    // The disks' tables came from their own sectors (none of the fixtures needs parted).
    expect(inspected!.blocks.tables.size).toBeGreaterThan(0);
    const partitions = await g.listPartitions();
    expect(await view.listPartitions()).toEqual(partitions);
    expect((await view.pvs()).sort()).toEqual((await g.pvs()).sort());
    for (const disk of devices) {
      if (partitions.some((p) => p.startsWith(disk)))
        expect(await view.partList(disk), disk).toEqual(await g.partList(disk));
    }
    const pick = (t: Record<string, string>) => ({ TYPE: t.TYPE, UUID: t.UUID, LABEL: t.LABEL });
    for (const dev of [...partitions, ...(await g.lvs())]) {
      const theirs = await g.blkid(dev).catch(() => ({}) as Record<string, string>);
      if (!theirs.TYPE) continue;
      expect(pick(await view.blkid(dev)), dev).toEqual(pick(theirs));
      expect(await view.vfsType(dev), dev).toBe(await g.vfsType(dev));
      expect(await view.size(dev), dev).toBe(Number(await g.blockdevGetsize64(dev)));
    }
  });
});

describe('a guest the fast inspection does not know', () => {
  it('sends the whole appliance to inspect_os, and every report still comes out right', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gk-fast-fallback-'));
    const pool = new AppliancePool({ maxAppliances: 1 });
    try {
      // Arch Linux: an os-release ID outside the fast path's distributions.
      const tree = join(dir, 'tree');
      await mkdir(join(tree, 'etc'), { recursive: true });
      await mkdir(join(tree, 'bin'));
      await mkdir(join(tree, 'var/lib/pacman/local'), { recursive: true }); // libguestfs lists it
      await writeFile(
        join(tree, 'etc/os-release'),
        'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n',
      );
      await writeFile(join(tree, 'etc/arch-release'), '');
      await writeFile(join(tree, 'etc/hostname'), 'arch01\n');
      await writeFile(join(tree, 'etc/fstab'), 'LABEL=archroot / ext4 rw 0 1\n');
      const arch = join(dir, 'arch.img');
      await promisify(execFile)('mke2fs', ['-q', '-t', 'ext4', '-L', 'archroot', '-d', tree, arch, '16M']);
      const debian = await getFixture('debian-like');
      const reportOf = (path: string, format: string) =>
        pool.run([{ path, format }], async (lease) => collectReport(lease, (await lease.roots())[0]));
      const [archReport, debianReport] = await Promise.all([
        reportOf(arch, 'raw'),
        reportOf(debian.path, debian.format),
      ]);
      expect(pool.status().launches).toBe(1);
      expect(archReport.operating_system).toMatchObject({
        distribution: 'archlinux',
        hostname: 'arch01',
        product_name: 'Arch Linux',
      });
      expect(debianReport.operating_system).toMatchObject({ distribution: 'debian', product_name: '12.4' });
      expect(debianReport.packages!.count).toBe(debian.facts.oses[0].packages.length);
    } finally {
      await pool.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

// What the registration's `features` say, and the names they say it in. libguestfs reports its
// optional groups (`available_all_groups` + `feature_available`) only from a launched appliance,
// so the probe launches one (~10 s under TCG) the first time on a machine and keeps the answer in
// a cache file keyed by the libguestfs version and the host's package state (the appliance is
// built from host packages: installing ntfs-3g changes the answer, and the key).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { FeatureProbe } from './capabilities.js';

/**
 * libguestfs optional group → the feature name clients of the original guestkit worker use.
 * Groups not listed here are advertised under their libguestfs name.
 */
export const FEATURE_NAMES: Readonly<Record<string, string>> = {
  lvm2: 'lvm',
  luks: 'luks',
  xfs: 'xfs',
  btrfs: 'btrfs',
  ntfs3g: 'ntfs',
  ntfsprogs: 'ntfs',
  selinux: 'selinux',
  selinuxrelabel: 'selinux-relabel',
  augeas: 'augeas',
  hivex: 'windows-registry',
  ldm: 'windows-dynamic-disks',
  mdadm: 'mdraid',
  gdisk: 'gpt',
  f2fs: 'f2fs',
  squashfs: 'squashfs',
  zerofree: 'zerofree',
  journal: 'journal',
  xz: 'xz',
};

/** Image formats (not protocols, filters or test drivers) as qemu-img names them. */
export const IMAGE_FORMATS = new Set([
  'raw',
  'qcow2',
  'qcow',
  'qed',
  'vmdk',
  'vdi',
  'vhdx',
  'vpc',
  'parallels',
  'dmg',
  'cloop',
  'bochs',
  'luks',
]);

/** qemu-img's "Supported formats" list reduced to disk image formats. */
export function imageFormats(qemuFormats: readonly string[]): string[] {
  return qemuFormats.filter((f) => IMAGE_FORMATS.has(f)).sort();
}

/**
 * The features a worker advertises, from the libguestfs groups its appliance has and the image
 * formats qemu opens. `nbd` is what the original worker called attaching qcow2/vmdk/vdi images
 * as block devices (it used qemu-nbd); here qemu's block layer in the appliance does the same, so
 * `nbd` is advertised when qemu opens qcow2. It does NOT mean nbd:// or other network drives are
 * accepted: image paths are local files only.
 */
export function advertisedFeatures(groups: readonly string[], diskFormats: readonly string[]): string[] {
  const out = new Set<string>();
  for (const g of groups) out.add(FEATURE_NAMES[g] ?? g);
  if (groups.length > 0) out.add('libguestfs');
  if (diskFormats.includes('qcow2')) out.add('nbd');
  return [...out].sort();
}

interface CachedGroups {
  key: string;
  groups: string[];
}

/** Where the probe's answer is kept: $XDG_CACHE_HOME/guestkit-worker (default ~/.cache). */
export function featureCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'guestkit-worker');
}

async function mtime(path: string): Promise<string> {
  return stat(path).then(
    (s) => String(s.mtimeMs),
    () => '-',
  );
}

const inFlight = new Map<string, Promise<string[]>>();

/**
 * The libguestfs groups this machine's appliance offers (one launch, then the cache file). Workers
 * of one process share the probe.
 */
export function probeLibguestfsGroups(cacheDir = featureCacheDir()): Promise<string[]> {
  let p = inFlight.get(cacheDir);
  if (!p) {
    p = readOrProbeGroups(cacheDir);
    inFlight.set(cacheDir, p);
    p.catch(() => inFlight.delete(cacheDir));
  }
  return p;
}

async function readOrProbeGroups(cacheDir: string): Promise<string[]> {
  const { Guestfs } = await import('../../lib/guestfs.js');
  const g = await Guestfs.create();
  try {
    const v = await g.version();
    const key = createHash('sha256')
      .update(`${v.major}.${v.minor}.${v.release}${v.extra}\0${await g.getPath()}\0`)
      .update(`${await mtime('/var/lib/dpkg/status')}\0${await mtime('/var/lib/rpm')}\0`)
      .update(await mtime(await g.getPath()))
      .digest('hex')
      .slice(0, 16);
    const file = join(cacheDir, `libguestfs-groups-${key}.json`);
    const cached = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as CachedGroups,
      () => null,
    );
    if (cached?.key === key && Array.isArray(cached.groups)) return cached.groups;

    await g.addDriveScratch(1024 * 1024); // libguestfs launches with at least one drive
    await g.launch();
    const groups: string[] = [];
    for (const group of await g.availableAllGroups()) {
      if (await g.featureAvailable([group])) groups.push(group);
    }
    groups.sort();
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ key, groups } satisfies CachedGroups));
    await rename(tmp, file);
    return groups;
  } finally {
    await g.close().catch(() => undefined);
  }
}

/** The default feature probe of workers: libguestfs groups under the clients' names, and nbd. */
export const libguestfsFeatureProbe: FeatureProbe = async ({ disk_formats }) =>
  advertisedFeatures(await probeLibguestfsGroups(), disk_formats);

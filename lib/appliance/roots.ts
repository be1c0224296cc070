// Root and clone mapping: which inspected roots live on which request's drives in a shared
// appliance, with fstab device names moved onto the root's own drive, and the drives whose view
// cannot be trusted next to a clone (they are inspected again in an appliance of their own).
import type { Logger } from 'pino';
import { diskOfDevice } from '../devices.js';
import type { Guestfs } from '../guestfs.js';
import { inspectAppliance, type BlockCache, type OsFacts } from '../inspection/index.js';
import { driveCount, type Batch, type Request } from './batch.js';

/** What one inspection of a whole appliance found, per device and per root. */
export interface RootMap {
  /** Roots per appliance device (`/dev/sdb` → roots). */
  byDevice: Map<string, string[]>;
  /** Mountpoints per root, with guest device names (`/dev/sda1` in fstab) moved onto the root's drive. */
  mountpoints: Map<string, Record<string, string>>;
  /** Filesystems per root, moved onto the root's drive like the mountpoints. */
  filesystems: Map<string, string[]>;
  /** Devices whose results cannot be trusted in a shared appliance (clone UUIDs, duplicate VGs). */
  conflicted: Set<string>;
  /** The fast inspection's facts per root; undefined when inspect_os answered (ask libguestfs). */
  facts: Map<string, OsFacts> | undefined;
  /** What the fast inspection read of the block devices (undefined: ask libguestfs). */
  blocks: BlockCache | undefined;
}

/**
 * inspect_os once for the whole appliance, roots mapped to drives. In a shared appliance,
 * clones of one image collide: fstab UUID= resolves to another drive's filesystem and duplicate
 * LVM volume groups stay inactive. Such drives are flagged for an appliance of their own.
 */
export async function mapRoots(
  g: Guestfs,
  batch: Pick<Batch, 'id' | 'requests'>,
  options: { fastInspection: boolean; log: Logger },
): Promise<RootMap> {
  // inspect_os costs ~5 s a disk under TCG; the fast inspection gives its answers in well under
  // one for the guests it knows, and says when it does not.
  const started = performance.now();
  const inspected = options.fastInspection ? await inspectAppliance(g) : undefined;
  const fast = inspected?.roots;
  const roots = fast ? fast.map((r) => r.root) : await g.inspectOs();
  options.log.info(
    {
      batch: batch.id,
      roots: roots.length,
      by: fast ? 'fast' : 'inspect_os',
      ms: Math.round(performance.now() - started),
    },
    'appliance inspected',
  );
  const byDevice = new Map<string, string[]>();
  const mountpoints = new Map<string, Record<string, string>>();
  const filesystems = new Map<string, string[]>();
  const conflicted = new Set<string>();
  const lvCache = new Map<string, string[]>();
  const shared = driveCount(batch.requests) > 1;
  const diskOf = async (dev: string): Promise<string[]> => {
    const disk = diskOfDevice(dev);
    if (/^\/dev\/([shvx]d[a-z]+|nvme\d+n\d+)$/.test(disk)) return [disk];
    // A logical volume: the disks of its volume group's PVs.
    if (!lvCache.has(dev)) lvCache.set(dev, await lvDisks(g, dev));
    return lvCache.get(dev)!;
  };
  /** A device libguestfs resolved for a root on `disks`, moved onto those disks if it can be. */
  const place = async (dev: string, disks: string[]): Promise<string | undefined> => {
    const on = await diskOf(dev).catch(() => disks);
    if (on.every((d) => disks.includes(d))) return dev;
    const byName = /^(btrfsvol:)?\/dev\/sda(\d*(\/.*)?)$/.exec(dev);
    // The guest's own first disk (fstab by device name), not the appliance's.
    if (byName && disks.length === 1) return `${byName[1] ?? ''}${disks[0]}${byName[2]}`;
    return undefined; // fstab UUID=/LABEL= resolved into another drive
  };
  const [allMps, allFs] = fast
    ? [fast.map((r) => r.mountpoints), fast.map((r) => r.filesystems)]
    : await Promise.all([
        Promise.all(roots.map((r) => g.inspectGetMountpoints(r))),
        Promise.all(roots.map((r) => g.inspectGetFilesystems(r))),
      ]);
  /** Devices of each root on its own drive(s), for the duplicate-UUID check. */
  const own = new Map<string, string[]>();
  for (const [i, root] of roots.entries()) {
    const disks = await diskOf(root);
    for (const disk of disks) byDevice.set(disk, [...(byDevice.get(disk) ?? []), root]);
    if (disks.length > 1 && shared) for (const d of disks) conflicted.add(d);
    const mps: Record<string, string> = {};
    for (const [mp, dev] of Object.entries(allMps[i])) {
      const at = await place(dev, disks);
      if (mp === '/') mps[mp] = at === dev ? dev : root;
      else if (at) mps[mp] = at;
      else {
        // A clone of this image shares the appliance: libguestfs' view of it cannot be trusted.
        for (const d of disks) conflicted.add(d);
        mps[mp] = dev;
      }
    }
    mountpoints.set(root, mps);
    // The filesystem '/' was resolved to is the root itself, wherever libguestfs found it.
    const rootFrom = allMps[i]['/'];
    const fses: string[] = [];
    const placed: string[] = [root];
    for (const dev of allFs[i]) {
      const at = dev === rootFrom || dev === root ? root : await place(dev, disks);
      if (at === undefined) {
        // e.g. swap by UUID= found on a clone's drive: a report would describe another disk.
        for (const d of disks) conflicted.add(d);
        fses.push(dev);
      } else if (!fses.includes(at)) {
        fses.push(at);
        placed.push(at);
      }
    }
    filesystems.set(root, fses);
    own.set(root, placed);
  }
  if (shared) {
    const pvs = await g.pvs().catch(() => [] as string[]);
    for (const pv of pvs) {
      const disk = diskOfDevice(pv);
      if (!byDevice.has(disk)) conflicted.add(disk);
    }
    // The fast inspection looks UUIDs up on the root's own drive first: clones stay apart.
    if (!fast)
      for (const d of await cloneDisks(batch.requests, g, own, diskOf, conflicted)) conflicted.add(d);
  }
  return {
    byDevice,
    mountpoints,
    filesystems,
    conflicted,
    facts: fast ? new Map(fast.map((r) => [r.root, r.facts])) : undefined,
    blocks: inspected?.blocks,
  };
}

/**
 * Drives holding a filesystem UUID that a drive of an earlier request in the appliance also
 * holds: clones. Their fstab UUID=/LABEL= may resolve to the other copy (blkid picks one), so
 * all copies but one are inspected again alone: the first whose filesystems all resolved onto
 * its own drive (`conflicted` already holds the others). Drives of one request (compare of two
 * copies) are not split: alone they would collide the same way.
 */
async function cloneDisks(
  requests: readonly Request[],
  g: Guestfs,
  own: Map<string, string[]>,
  diskOf: (dev: string) => Promise<string[]>,
  conflicted: ReadonlySet<string>,
): Promise<string[]> {
  const requestOf = new Map<string, number>();
  for (const [n, r] of requests.entries()) {
    for (const d of r.devices ?? []) requestOf.set(d, n);
  }
  const devices = [...new Set([...own.values()].flat())];
  // btrfsvol:/dev/sda2/@ → /dev/sda2 (subvolumes share their filesystem's UUID).
  const blockOf = (dev: string) => dev.replace(/^btrfsvol:(\/dev\/[^/]+)\/.*$/, '$1');
  const uuids = await Promise.all(
    devices.map(async (dev) => {
      const uuid = await g.vfsUuid(blockOf(dev)).catch(() => '');
      return { uuid, disks: await diskOf(dev).catch(() => [] as string[]) };
    }),
  );
  /** UUID → the request that keeps the shared appliance (holds it first, resolved cleanly). */
  const first = new Map<string, number>();
  for (const { uuid, disks } of uuids) {
    for (const d of disks) {
      const n = requestOf.get(d);
      if (!uuid || n === undefined || conflicted.has(d)) continue;
      first.set(uuid, Math.min(first.get(uuid) ?? n, n));
    }
  }
  const out: string[] = [];
  for (const { uuid, disks } of uuids) {
    for (const d of disks) {
      const n = requestOf.get(d);
      if (uuid && n !== undefined && n !== first.get(uuid)) out.push(d);
    }
  }
  return out;
}

async function lvDisks(g: Guestfs, lv: string): Promise<string[]> {
  try {
    const canonical = await g.lvmCanonicalLvName(lv);
    const vg = canonical.split('/')[2];
    const uuids = new Set(await g.vgpvuuids(vg));
    const out: string[] = [];
    for (const pv of await g.pvs()) {
      if (uuids.has(await g.pvuuid(pv))) out.push(diskOfDevice(pv));
    }
    return out;
  } catch {
    return [];
  }
}

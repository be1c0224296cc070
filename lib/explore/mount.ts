// Mounting an image's filesystems read-only as the guest sees them: the inspected root's
// mountpoints (shortest first, so /boot lands on /), or, with no operating system, each
// filesystem under its device name (`/sda1`) on mountpoints made in the appliance's own root.
import type { ApplianceLease } from '../appliance/types.js';
import { Guestfs } from '../guestfs.js';
import { inspectLinux } from '../inspection/index.js';
import type { ExploreLayout } from './types.js';

/** Where the explorer gets its handle and the inspection answers. */
export interface ExploreSource {
  guestfs: Guestfs;
  /** The drives that are this explorer's (a lease's); all the appliance's when undefined. */
  devices?: readonly string[];
  roots(): Promise<{ root: string; mountpoints: Record<string, string>; product?: string }[]>;
}

/** The source of a bare handle (fast inspection, or inspect_os for guests it does not know). */
export function handleSource(g: Guestfs): ExploreSource {
  return {
    guestfs: g,
    roots: async () => {
      const fast = await inspectLinux(g);
      if (fast)
        return fast.map((r) => ({ root: r.root, mountpoints: r.mountpoints, product: r.facts.product_name }));
      const out = [];
      for (const root of await g.inspectOs()) {
        out.push({
          root,
          mountpoints: await g.inspectGetMountpoints(root),
          product: await g.inspectGetProductName(root),
        });
      }
      return out;
    },
  };
}

/** The source of an appliance-pool lease (its own drives, its inspection answers). */
export function leaseSource(lease: ApplianceLease): ExploreSource {
  return {
    guestfs: lease.guestfs,
    devices: lease.devices,
    roots: async () => {
      const out = [];
      for (const root of await lease.roots()) {
        out.push({
          root,
          mountpoints: await lease.mountpoints(root),
          product: (await lease.os(root)).product_name,
        });
      }
      return out;
    },
  };
}

export function isLease(x: Guestfs | ApplianceLease): x is ApplianceLease {
  return !(x instanceof Guestfs) && 'guestfs' in x && 'devices' in x;
}

/** Filesystems with nothing to browse. */
const SKIP_FS = new Set(['swap', 'unknown', 'LVM2_member', 'crypto_LUKS', '']);

function owned(device: string, devices: readonly string[] | undefined): boolean {
  if (!devices) return true;
  return devices.some((d) => device === d || (device.startsWith(d) && /^\d+$/.test(device.slice(d.length))));
}

/** Mounts read-only; returns the layout. `root` picks one of several inspected roots. */
export async function mountImage(source: ExploreSource, root?: string): Promise<ExploreLayout> {
  const g = source.guestfs;
  const roots = await source.roots();
  const chosen = root === undefined ? roots[0] : roots.find((r) => r.root === root);
  if (chosen) {
    const mounts: Record<string, string> = {};
    const order = Object.entries(chosen.mountpoints).sort((a, b) => a[0].length - b[0].length);
    for (const [mp, dev] of order) {
      try {
        await g.mountRo(dev, mp);
        mounts[mp] = dev;
      } catch {
        // As guestfish -i: a mountpoint that does not mount (missing device) leaves its directory.
      }
    }
    return { kind: 'os', root: chosen.root, mounts, ...(chosen.product ? { product: chosen.product } : {}) };
  }
  const mounts: Record<string, string> = {};
  const filesystems = Object.entries(await g.listFilesystems()).filter(
    ([dev, type]) => !SKIP_FS.has(type) && owned(dev, source.devices),
  );
  for (const [dev] of filesystems.sort((a, b) => a[0].localeCompare(b[0]))) {
    const at = `/${dev.replace(/^\/dev\//, '').replaceAll('/', '-')}`;
    try {
      await g.mkmountpoint(at);
      await g.mountRo(dev, at);
      mounts[at] = dev;
    } catch {
      await g.rmmountpoint(at).catch(() => undefined);
    }
  }
  return { kind: 'filesystems', mounts };
}

/** Undoes {@link mountImage} (longest mountpoint first; mkmountpoint'ed ones removed). */
export async function unmountImage(g: Guestfs, layout: ExploreLayout): Promise<void> {
  const order = Object.keys(layout.mounts).sort((a, b) => b.length - a.length);
  for (const mp of order) {
    await g.umount(mp).catch(() => undefined);
    if (layout.kind === 'filesystems') await g.rmmountpoint(mp).catch(() => undefined);
  }
}

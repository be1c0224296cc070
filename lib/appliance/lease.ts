// A request's lease: its drives in a running appliance, and the inspection answers (roots,
// mountpoints, facts, packages, block devices) moved onto those drives. Valid inside run()'s
// callback only.
import type { Guestfs } from '../guestfs.js';
import { BlockView, installedApplications, osFacts } from '../inspection/index.js';
import { SoloRetry, type Batch, type Request } from './batch.js';
import type { RootMap } from './roots.js';
import type { ApplianceLease } from './types.js';

/**
 * The lease of `r` in `b`. `soloNeeded` turns true when one of its drives conflicts with another
 * in the appliance (a clone): the pool then runs the request again alone.
 */
export function createLease(
  b: Batch,
  r: Request,
  g: Guestfs,
  roots: () => Promise<RootMap>,
): ApplianceLease & { soloNeeded: boolean } {
  const devices = r.devices ?? [];
  const rootsByDrive = async (): Promise<string[][]> => {
    b.roots ??= roots();
    const map = await b.roots;
    if (devices.some((d) => map.conflicted.has(d)) && !r.solo) {
      lease.soloNeeded = true;
      throw new SoloRetry('drive needs an appliance of its own');
    }
    return devices.map((d) => map.byDevice.get(d) ?? []);
  };
  const lease = {
    guestfs: g,
    devices,
    drives: r.drives,
    signal: r.lease.signal,
    soloNeeded: false,
    rootsByDrive,
    roots: async () => (await rootsByDrive()).flat(),
    mountpoints: async (root: string) => {
      await rootsByDrive();
      return { ...((await b.roots!).mountpoints.get(root) ?? (await g.inspectGetMountpoints(root))) };
    },
    filesystems: async (root: string) => {
      await rootsByDrive();
      return [...((await b.roots!).filesystems.get(root) ?? (await g.inspectGetFilesystems(root)))];
    },
    os: async (root: string) => {
      await rootsByDrive();
      return (await b.roots!).facts?.get(root) ?? (await osFacts(g, root));
    },
    applications: async (root: string) => {
      await rootsByDrive();
      return installedApplications(g, root, (await b.roots!).facts?.get(root));
    },
    blocks: async () => {
      await rootsByDrive();
      return new BlockView(g, (await b.roots!).blocks);
    },
  };
  return lease;
}

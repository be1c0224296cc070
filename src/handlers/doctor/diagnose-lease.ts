// One diagnosis on a pool lease or a bare launched handle (repair's overlay appliance): the
// inspection sections the checks need and the doctor's own facts, read in one mount.
import type { ApplianceLease } from '../../../lib/appliance/index.js';
import { diskOfDevice } from '../../../lib/devices.js';
import { Guestfs } from '../../../lib/guestfs.js';
import { collectReport } from '../inspect/collect.js';
import type { ImageInfo, InspectOptions } from '../inspect/report.js';
import { diagnose } from './evaluate.js';
import { collectDoctorFacts, type DoctorFacts } from './facts.js';
import type { Target } from './targets.js';
import type { DoctorResult } from './types.js';

/** What the checks read of the inspection: no user or database sections, no package list in it. */
const SECTIONS: Partial<InspectOptions> = {
  include_packages: false,
  include_users: false,
  include_databases: false,
  include_services: true,
  include_network: true,
  include_security: true,
  include_storage: true,
};

export interface Diagnosis {
  result: DoctorResult;
  facts: DoctorFacts;
}

export async function diagnoseRoot(
  target: ApplianceLease | Guestfs,
  root: string,
  goal: Target,
  options: {
    explain?: boolean;
    image?: ImageInfo;
    signal?: AbortSignal;
    progress?: (p: string, pct: number, m: string) => void;
  } = {},
): Promise<Diagnosis> {
  let disk: string | null;
  if (target instanceof Guestfs) {
    // A bare handle (repair's overlay appliance): collectReport asks libguestfs' inspection,
    // run afresh so it sees the guest as it is now.
    await target.umountAll();
    await target.inspectOs();
    disk = (await target.listDevices())[0] ?? null;
  } else {
    const byDrive = await target.rootsByDrive();
    const i = byDrive.findIndex((roots) => roots.includes(root));
    disk = i >= 0 ? target.devices[i] : null;
  }
  if (disk === null && root.startsWith('/dev/sd')) disk = diskOfDevice(root);
  let facts: DoctorFacts | undefined;
  const report = await collectReport(target, root, SECTIONS, {
    ...(options.image ? { image: options.image } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    progress: options.progress,
    whileMounted: async (g, _root, partial) => {
      options.progress?.('boot_analysis', 85, 'Reading the boot chain, initramfs and drivers');
      facts = await collectDoctorFacts(g, partial, disk, options.signal);
    },
  });
  facts!.report = report;
  return { result: diagnose(facts!, goal, options.explain ?? false), facts: facts! };
}

// Builds the inspection report of one root: the libguestfs inspect_get_* facts, then each section
// (obeying its include_* flag) read from the mounted guest. Reused by guestkit.profile and
// guestkit.compare, which call it on their own leases.
import type { ApplianceLease } from '../../../lib/appliance.js';
import { Guestfs } from '../../../lib/guestfs.js';
import {
  DEFAULT_INSPECT_OPTIONS,
  type ImageInfo,
  type InspectionReport,
  type InspectOptions,
} from './report.js';

export interface CollectContext {
  /** Stops collection between steps (cancel/timeout). */
  signal?: AbortSignal;
  /** Progress at section changes (phases: os_detection, package_scan, service_scan, security_scan…). */
  progress?(phase: string, percent: number, message: string): void;
  /** The `image` block of the report (defaults from the lease's probed drive). */
  image?: ImageInfo;
  /** Other roots of the same image (multi-OS); defaults: the lease's roots on the same drive. */
  siblings?: readonly string[];
  /**
   * Runs while the root is still mounted after the report's sections, e.g. profile's extra checks:
   * one mount serves both.
   */
  whileMounted?(g: Guestfs, root: string, report: InspectionReport): Promise<void>;
}

/** Collects the report of `root` (a device inspect_os returned) on a lease or a bare launched handle. */
export async function collectReport(
  target: ApplianceLease | Guestfs,
  root: string,
  options: Partial<InspectOptions> = {},
  ctx: CollectContext = {},
): Promise<InspectionReport> {
  const opts: InspectOptions = { ...DEFAULT_INSPECT_OPTIONS, ...options };
  void opts;
  void target;
  void root;
  void ctx;
  throw new Error('collectReport: not implemented yet');
}

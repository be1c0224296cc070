// guestkit.compare: baseline and target disks in ONE appliance lease; each root is inspected and
// its /etc (and optionally every file) checksummed in its own mount; small changed text files
// get a unified diff. The diffing itself is pure (diff-report.ts, config-diff.ts).
import { OPERATIONS } from '../../protocol/vocabulary.js';
import type { ApplianceLease } from '../../../lib/appliance/index.js';
import type { Guestfs } from '../../../lib/guestfs.js';
import { collectReport, withMounts } from '../inspect/collect.js';
import type { InspectionReport } from '../inspect/report.js';
import { resolveOutputPath } from '../../worker/outputs.js';
import { libguestfsAvailable } from '../image.js';
import { reserveImages, withImages } from '../inspect/attach.js';
import { noOperatingSystem } from '../inspect/index.js';
import { writeReport } from '../inspect/output.js';
import type { ImageInfo } from '../inspect/report.js';
import type { HandlerContext, HandlerResult, JobHandler } from '../types.js';
import {
  attachDiffs,
  diffTrees,
  readChanged,
  snapshotTree,
  type TextOrOmitted,
  type TreeSnapshot,
} from './config-diff.js';
import { diffReports } from './diff-report.js';
import { validateComparePayload, type CompareRequest } from './payload.js';
import { recommend } from './recommendations.js';
import type { CompareResultData, ComparisonReport, FilesDiff } from './types.js';

export { validateComparePayload, type CompareRequest } from './payload.js';
export { diffReports, diffPackages, diffServices, diffUsers, fieldChanges } from './diff-report.js';
export { unifiedDiff } from './unified-diff.js';
export { compareVersions, formatVersion } from './version.js';
export type * from './types.js';

interface Side {
  report: InspectionReport;
  etc: TreeSnapshot | null;
  all: TreeSnapshot | null;
}

interface Collected {
  baseline: Side;
  target: Side;
  config: FilesDiff | null;
  files: FilesDiff | null;
  warnings: string[];
}

async function inspectBoth(
  ctx: HandlerContext<CompareRequest>,
  lease: ApplianceLease,
  images: readonly ImageInfo[],
): Promise<Collected> {
  const { options } = ctx.data;
  const rootsByDrive = await lease.rootsByDrive();
  const warnings: string[] = [];
  const roots = images.map((image, i) => {
    const found = rootsByDrive[i] ?? [];
    if (found.length === 0) throw noOperatingSystem(image.path);
    if (found.length > 1)
      warnings.push(
        `${image.path} holds ${found.length} operating systems; compared the first (${found[0]})`,
      );
    return found[0];
  });
  const sides: Side[] = [];
  let config: FilesDiff | null = null;
  let files: FilesDiff | null = null;
  let targetTexts = new Map<string, TextOrOmitted>();
  for (const [i, image] of images.entries()) {
    const label = i === 0 ? 'baseline' : 'target';
    const side: Partial<Side> = {};
    side.report = await collectReport(
      lease,
      roots[i],
      { include_packages: options.compare_packages, include_databases: true },
      {
        signal: lease.signal,
        image,
        progress: (phase, percent, message) =>
          ctx.progress(phase, 20 + 30 * i + 0.25 * percent, `${label}: ${message}`),
        whileMounted: async (g: Guestfs) => {
          ctx.progress('disk_inspection', 20 + 30 * i + 27, `${label}: checksumming files`);
          side.etc =
            options.compare_config || options.compare_files ? await snapshotTree(g, '/etc', true) : null;
          side.all = options.compare_files ? await snapshotTree(g, '/', false) : null;
          if (i === 1) {
            // Both sides' checksums are known now: read the target's changed files while mounted.
            const base = sides[0];
            if (base.etc && side.etc) {
              config = diffTrees(base.etc, side.etc, { ignoreTimestamps: options.ignore_timestamps });
              if (options.compare_config) targetTexts = await readChanged(g, config.changed, 'target');
            }
            if (base.all && side.all) files = diffTrees(base.all, side.all, { ignoreTimestamps: true });
          }
        },
      },
    );
    sides.push(side as Side);
  }
  const changed = (config as FilesDiff | null)?.changed ?? [];
  if (options.compare_config && changed.length > 0) {
    ctx.progress('disk_inspection', 82, `Diffing ${changed.length} changed /etc files`);
    // The lease's mountpoints, not inspect_get_mountpoints: in a shared appliance a guest's fstab
    // may name /dev/sda while its disk is another drive.
    const g = lease.guestfs;
    const baseTexts = await withMounts(g, await lease.mountpoints(roots[0]), () =>
      readChanged(g, changed, 'baseline'),
    );
    attachDiffs(changed, baseTexts, targetTexts);
  } else {
    for (const c of changed) c.diff_omitted = 'not_requested';
  }
  for (const c of (files as FilesDiff | null)?.changed ?? []) c.diff_omitted = 'not_requested';
  return { baseline: sides[0], target: sides[1], config, files, warnings };
}

export function buildComparison(
  c: Collected,
  options: CompareRequest['options'],
  now = new Date(),
): ComparisonReport {
  const diff = diffReports(c.baseline.report, c.target.report);
  const config = options.compare_config ? c.config : null;
  const counts = {
    operating_system: diff.operating_system.length,
    packages: {
      added: diff.packages.added.length,
      removed: diff.packages.removed.length,
      changed: diff.packages.changed.length,
    },
    services: {
      added: diff.services.added.length,
      removed: diff.services.removed.length,
      enabled: diff.services.enabled.length,
      disabled: diff.services.disabled.length,
    },
    users: {
      added: diff.users.added.length,
      removed: diff.users.removed.length,
      changed: diff.users.changed.length,
    },
    config_files: config
      ? { added: config.added.length, removed: config.removed.length, changed: config.changed.length }
      : null,
  };
  const sum = (o: Record<string, number> | null) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);
  const total =
    counts.operating_system +
    sum(counts.packages) +
    sum(counts.services) +
    sum(counts.users) +
    sum(counts.config_files) +
    diff.kernels.added.length +
    diff.kernels.removed.length +
    diff.network.length +
    diff.security.length +
    (c.files ? c.files.added.length + c.files.removed.length + c.files.changed.length : 0);
  const report: ComparisonReport = {
    version: '1.0',
    baseline: { image: c.baseline.report.image, operating_system: c.baseline.report.operating_system },
    target: { image: c.target.report.image, operating_system: c.target.report.operating_system },
    summary: { identical: total === 0, total_differences: total, ...counts },
    operating_system: diff.operating_system,
    packages: options.compare_packages ? diff.packages : null,
    services: diff.services,
    users: diff.users,
    kernels: diff.kernels,
    network: diff.network,
    security: diff.security,
    config_files: config,
    ...(c.files ? { files: c.files } : {}),
    warnings: c.warnings,
    timestamp: now.toISOString(),
  };
  if (options.recommendations) report.recommendations = recommend(diff, config);
  return report;
}

async function run(ctx: HandlerContext<CompareRequest>): Promise<HandlerResult<CompareResultData>> {
  const { data } = ctx;
  if (data.output.destination) {
    await resolveOutputPath(data.output.destination, ctx.config, 'payload.data.output.destination');
  }
  const collected = await withImages(
    ctx,
    [data.baseline, data.target],
    (lease, images) => inspectBoth(ctx, lease, images),
    { isolated: data.isolated, fields: ['payload.data.baseline.path', 'payload.data.target.path'] },
  );
  ctx.progress('result_generation', 95, 'Writing the comparison');
  const report = buildComparison(collected, data.options);
  const file = await writeReport(report, data.output, ctx.config, (n) => ctx.metrics.diskWrite(n));
  ctx.progress('result_generation', 100, `${report.summary.total_differences} difference(s)`);
  return {
    data: { status: 'success', output_file: file, summary: report.summary, report },
    ...(file ? { outputs: { primary: file, artifacts: [file] } } : {}),
  };
}

export const compareHandler: JobHandler<CompareRequest, CompareResultData> = {
  operation: OPERATIONS.compare,
  payloadTypes: ['guestkit.compare.v1'],
  description: 'Differences between two disk images: OS, packages, services, users, /etc files',
  validate: (data) => validateComparePayload(data),
  reserve: reserveImages((d) => ({ images: [d.baseline, d.target], isolated: d.isolated })),
  run,
  available: libguestfsAvailable,
};

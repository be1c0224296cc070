// guestkit.inspect: the full inspection report of a disk image (operations.md), computed on the
// shared appliance pool so concurrent jobs share launches.
import { OPERATIONS } from '../../protocol/vocabulary.js';
import { HandlerError } from '../../protocol/errors.js';
import { resolveOutputPath } from '../../worker/outputs.js';
import type { HandlerContext, HandlerResult, JobHandler } from '../types.js';
import { libguestfsAvailable } from '../image.js';
import { reserveImages, withImages } from './attach.js';
import { collectReport } from './collect.js';
import { validateInspectPayload, type InspectPayload } from './payload.js';
import { rootReport, type InspectionReport, type InspectResultData, type InspectSummary } from './report.js';
import { writeReport } from './output.js';

export { collectReport, withMounts, deviceAliaser, type CollectContext } from './collect.js';
export { withImages, useAppliancePool, applianceFailure, type AttachOptions } from './attach.js';
export {
  validateImage,
  validateOutput,
  validateInspectPayload,
  type ImageSpec,
  type OutputSpec,
} from './payload.js';
export { writeReport, serializeReport } from './output.js';
export type * from './report.js';

export function summarize(report: InspectionReport): InspectSummary {
  const os = report.operating_system;
  return {
    os: os.type,
    distribution: os.distribution,
    version: os.version,
    hostname: os.hostname,
    arch: os.arch,
    packages: report.packages?.count ?? null,
    services_enabled: report.services?.enabled.length ?? null,
    users: report.users?.count ?? null,
    roots: report.operating_systems?.length ?? 1,
  };
}

export function noOperatingSystem(path: string): HandlerError {
  return new HandlerError(
    'NO_OPERATING_SYSTEM',
    `No operating system found on ${path}: the disk holds no recognisable root filesystem ` +
      '(empty, unformatted, encrypted or not a system disk)',
    { phase: 'os_detection', details: { path } },
  );
}

async function run(ctx: HandlerContext<InspectPayload>): Promise<HandlerResult<InspectResultData>> {
  const { image, options, output, isolated } = ctx.data;
  if (output.destination) {
    // Fail before minutes of inspection, not after.
    await resolveOutputPath(output.destination, ctx.config, 'payload.data.output.destination');
  }
  const report = await withImages(
    ctx,
    [image],
    async (lease, [info]) => {
      ctx.progress('os_detection', 35, 'Detecting operating systems');
      const roots = await lease.roots();
      if (roots.length === 0) throw noOperatingSystem(image.path);
      const first = await collectReport(lease, roots[0], options, {
        image: info,
        progress: (phase, percent, message) => ctx.progress(phase, percent, message),
      });
      if (roots.length > 1) {
        // Every root gets its own mountpoints, filesystems, packages, services, users… (as
        // virt-inspector lists every OS); the top-level fields stay the first root's.
        const others: InspectionReport[] = [];
        for (const root of roots.slice(1)) {
          ctx.progress('os_detection', 85, `Reading the operating system on ${root}`);
          others.push(await collectReport(lease, root, options, { image: info }));
        }
        first.roots = [first, ...others].map(rootReport);
      }
      return first;
    },
    { isolated },
  );
  ctx.progress(
    'result_generation',
    90,
    output.destination ? `Writing ${output.destination}` : 'Building the result',
  );
  const file = await writeReport(report, output, ctx.config, (n) => ctx.metrics.diskWrite(n));
  const data: InspectResultData = {
    status: 'success',
    output_file: file,
    summary: summarize(report),
    report,
  };
  ctx.progress('cleanup', 100, 'Inspection complete');
  return { data, ...(file ? { outputs: { primary: file, artifacts: [file] } } : {}) };
}

export const inspectHandler: JobHandler<InspectPayload, InspectResultData> = {
  operation: OPERATIONS.inspect,
  payloadTypes: ['guestkit.inspect.v1'],
  description: 'Inspects a disk image: OS, packages, services, users, network, security, storage',
  validate: (data) => validateInspectPayload(data),
  reserve: reserveImages((d) => ({ images: [d.image], isolated: d.isolated })),
  run,
  available: libguestfsAvailable,
};

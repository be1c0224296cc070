// guestkit.fix: every write goes to a qcow2 overlay backed by the image; the operations run in
// one appliance on that overlay; only when they all succeed and re-inspection still finds the
// same OS is the overlay committed into the image (after an optional backup) or written out as
// output.fixed_image. Any failure or abort leaves the original byte-for-byte unchanged.
import { OPERATIONS } from '../../protocol/vocabulary.js';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HandlerError, isCodedError } from '../../protocol/errors.js';
import { createOverlay, probeQemuImg } from '../../tools/qemu-img.js';
import { libguestfsAvailable, prepareImage, verifyImageChecksum, type PreparedImage } from '../image.js';
import type { HandlerAvailability, HandlerContext, HandlerResult, JobHandler } from '../types.js';
import { FixAppliance } from './appliance.js';
import { defaultFixOperations } from './builtin.js';
import { commitFix, resolveFixTargets, writeFixReport } from './commit.js';
import type { FixOperationRegistry, GuestOs } from './operations.js';
import { validateFixPayload, type FixRequest, type FixStep } from './payload.js';
import { newReport, runSteps, validateOverlay, type FixReport, type FixTargets } from './steps.js';

export * from './operations.js';
export * from './builtin.js';
export { validateFixPayload, type FixRequest, type FixStep } from './payload.js';
export { FixAppliance } from './appliance.js';
export type { FixReport, OperationReport } from './steps.js';

/** Result `data` of guestkit.fix: the report, and the report file when one was written. */
export type FixResultData = FixReport & { output_file: string | null };

export interface FixHandlerOptions {
  /** Fix operations the handler knows (default: the bundled ones). */
  operations?: FixOperationRegistry;
}

function failWith(
  code: 'EXECUTION_ERROR' | 'NO_OPERATING_SYSTEM',
  message: string,
  report: FixReport,
): never {
  report.status = 'failed';
  report.message = message;
  throw new HandlerError(code, message, { phase: report.phase, details: { report } });
}

/**
 * What guestkit.repair adds to the fix pipeline: it decides the operations once the guest is
 * inspected (from a diagnosis) and judges the result before commit.
 */
export interface FixPipelineHooks {
  /** The operations to run, decided in the appliance; default: the request's. */
  planSteps?(appliance: FixAppliance, os: GuestOs): Promise<FixStep[]>;
  /** After the re-inspection, before commit: why not to commit, or null to commit. */
  beforeCommit?(appliance: FixAppliance, os: GuestOs, report: FixReport): Promise<string | null>;
}

/**
 * The fix pipeline: overlay on the image, one appliance, the operations, re-inspection (and the
 * hooks' judgement), then commit into the image or output.fixed_image. Any failure leaves the
 * image byte-for-byte unchanged.
 */
export async function runFixPipeline(
  ctx: HandlerContext<FixRequest>,
  registry: FixOperationRegistry,
  hooks: FixPipelineHooks = {},
): Promise<HandlerResult<FixResultData>> {
  const started = performance.now();
  const { data } = ctx;
  ctx.progress('validation', 0, 'Checking the image and the declared targets');
  // Written only when committed in place; a fixed_image only reads it.
  const image = await prepareImage(ctx, data.image.path, {
    field: 'payload.data.image',
    format: data.image.format,
    use: data.output.fixedImage ? 'read' : 'write',
  });
  // Two fix jobs on one image would commit over each other: one at a time per image.
  if (imagesInFix.has(image.path)) {
    await image.close();
    throw new HandlerError(
      'EXECUTION_ERROR',
      `Another guestkit.fix job is working on ${image.path}; run this one after it finishes`,
      { phase: 'validation', recoverable: true, details: { path: image.path } },
    );
  }
  imagesInFix.add(image.path);
  try {
    const targets = await resolveFixTargets(ctx, image);
    await verifyImageChecksum(ctx, image, data.image.checksum);
    return await fixImage(ctx, registry, image, targets, started, hooks);
  } finally {
    imagesInFix.delete(image.path);
    await image.close();
  }
}

/** Real paths of the images a fix job of this process is working on. */
const imagesInFix = new Set<string>();

async function fixImage(
  ctx: HandlerContext<FixRequest>,
  registry: FixOperationRegistry,
  image: PreparedImage,
  targets: FixTargets,
  started: number,
  hooks: FixPipelineHooks,
): Promise<HandlerResult<FixResultData>> {
  const { data, signal } = ctx;
  const report = newReport(data, image, targets);
  await mkdir(ctx.config.workDir, { recursive: true });
  const workDir = await mkdtemp(join(ctx.config.workDir, `fix-${ctx.jobId}-`));
  const overlay = join(workDir, 'overlay.qcow2');
  let appliance: FixAppliance | undefined;
  try {
    ctx.progress('disk_attach', 5, 'Creating the overlay and launching the appliance');
    // Backed by the pinned chain (json:), so qemu reads and commits into the checked files only.
    await createOverlay(overlay, image.qemuName, image.format, { signal });
    appliance = await FixAppliance.launch(overlay, signal, ctx.config.guestfs);

    ctx.progress('os_detection', 25, 'Inspecting the guest');
    report.phase = 'os_detection';
    const oses = await appliance.inspect();
    if (oses.length === 0) {
      failWith('NO_OPERATING_SYSTEM', `No operating system found in ${image.path}; nothing to fix`, report);
    }
    const os: GuestOs = oses[0];
    report.os = {
      root: os.root,
      distro: os.distro,
      arch: os.arch,
      hostname: os.hostname,
      roots: oses.length,
    };

    report.phase = 'fix';
    const steps = hooks.planSteps ? await hooks.planSteps(appliance, os) : data.operations;
    if (hooks.planSteps)
      report.operations = newReport({ ...data, operations: steps }, image, targets).operations;
    await runSteps(ctx, registry, appliance, os, report, steps);
    const failed = report.operations.filter((o) => o.status === 'failed');
    if (failed.length > 0) {
      failWith(
        'EXECUTION_ERROR',
        `Fix operation ${failed.map((o) => `${o.type} failed: ${o.message}`).join('; ')}; nothing was committed, ` +
          `${image.path} is unchanged`,
        report,
      );
    }

    if (data.validateBeforeCommit) {
      ctx.progress('os_detection', 85, 'Re-inspecting the overlay before commit');
      report.phase = 'validation';
      const problem = await validateOverlay(appliance, os, report);
      if (problem) {
        failWith(
          'EXECUTION_ERROR',
          `Validation before commit failed: ${problem}; nothing was committed, ${image.path} is unchanged`,
          report,
        );
      }
    }
    if (hooks.beforeCommit) {
      report.phase = 'validation';
      const problem = await hooks.beforeCommit(appliance, os, report);
      if (problem)
        failWith('EXECUTION_ERROR', `${problem}; nothing was committed, ${image.path} is unchanged`, report);
    }
    // A clean shutdown puts every guest write into the overlay before qemu-img reads it.
    await appliance.shutdown();
    await appliance.close();
    appliance = undefined;

    report.phase = 'commit';
    await commitFix(ctx, image, overlay, targets, report);
    report.status = 'success';
    report.message = `${report.operations.length} operation(s) applied to ${report.commit.target}`;
    report.duration_seconds = (performance.now() - started) / 1000;
    ctx.progress('result_generation', 95, 'Writing the report');
    await writeFixReport(targets.logPath, data.output.reportFormat, report, ctx.config);
    const artifacts = [targets.logPath, report.commit.backup?.path].filter((p): p is string => !!p);
    return {
      data: { ...report, output_file: targets.logPath ?? null },
      outputs: { primary: report.commit.target ?? image.path, artifacts },
    };
  } catch (err) {
    if (!signal.aborted && report.status !== 'failed') {
      report.status = 'failed';
      report.message = (err as Error).message;
    }
    report.duration_seconds = (performance.now() - started) / 1000;
    await writeFixReport(targets.logPath, data.output.reportFormat, report, ctx.config).catch(
      () => undefined,
    );
    if (signal.aborted) throw signal.reason;
    if (isCodedError(err)) throw err;
    if (isApplianceDeath(err)) {
      throw new HandlerError(
        'APPLIANCE_ERROR',
        `The appliance died: ${(err as Error).message.split('\n')[0]}`,
        {
          phase: report.phase,
          details: { report },
          recoverable: true,
          cause: err,
        },
      );
    }
    throw new HandlerError('EXECUTION_ERROR', `guestkit.fix failed: ${(err as Error).message}`, {
      phase: report.phase,
      details: { report },
      cause: err,
    });
  } finally {
    await appliance?.close();
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    ctx.progress('cleanup', 100, 'Overlay removed');
  }
}

/** qemu gone under a running call (killed, crashed): worth a retry, unlike a failed step. */
function isApplianceDeath(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'GuestfsError') return false;
  const code = (err as Error & { code?: string }).code;
  return code === 'EKILLED' || /killed by signal|child process died|appliance closed/i.test(err.message);
}

let libguestfsCheck: Promise<HandlerAvailability> | undefined;

/**
 * qemu-img for the overlay and commit, and a libguestfs handle that can be created (guestkit.fix,
 * and guestkit.repair which applies its plan through the same pipeline).
 */
export async function fixPipelineAvailable(): Promise<HandlerAvailability> {
  const probe = await probeQemuImg();
  if (!probe.available) return { available: false, reason: probe.reason ?? 'qemu-img not found' };
  const binding = await libguestfsAvailable();
  if (!binding.available) return binding;
  libguestfsCheck ??= (async () => {
    try {
      const { Guestfs } = await import('../../../lib/guestfs.js');
      const g = await Guestfs.create();
      await g.close();
      return { available: true };
    } catch (err) {
      return { available: false, reason: `libguestfs is not usable: ${(err as Error).message}` };
    }
  })();
  return libguestfsCheck;
}

/** A guestkit.fix handler over the given fix-operation registry. */
export function createFixHandler(options: FixHandlerOptions = {}): JobHandler<FixRequest, FixResultData> {
  const registry = options.operations ?? defaultFixOperations;
  return {
    operation: OPERATIONS.fix,
    payloadTypes: ['guestkit.fix.v1'],
    description: `Repairs a guest on a qcow2 overlay, then commits (${registry.types().join(', ')})`,
    validate: (data) => validateFixPayload(data, registry),
    run: (ctx) => runFixPipeline(ctx, registry),
    available: fixPipelineAvailable,
  };
}

export const fixHandler = createFixHandler();

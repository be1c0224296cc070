// Running the requested fix operations in order inside the appliance, and the re-inspection
// that must still find the same OS before anything is committed. Both fill the job's report.
import type { PreparedImage } from '../image.js';
import type { HandlerContext } from '../types.js';
import { describeGuestfsError, type FixAppliance } from './appliance.js';
import type { FixOperationRegistry, FixStatus, GuestOs } from './operations.js';
import type { FixRequest, FixStep } from './payload.js';

export interface OperationReport {
  type: string;
  status: FixStatus | 'pending';
  message: string;
  changed: boolean;
  duration_seconds: number;
  log: string[];
  details?: Record<string, unknown>;
}

export interface FixTargets {
  /** Where the fixed image goes: null = committed into the image itself. */
  fixedImage: string | null;
  fixedImageFormat: string;
  backupPath: string | null;
  logPath: string | undefined;
}

export interface FixReport {
  version: '1.0';
  status: 'running' | 'success' | 'failed';
  message: string;
  /** Last phase reached (where a failure happened). */
  phase: string;
  image: { path: string; format: string };
  os: { root: string; distro: string; arch: string; hostname: string; roots: number } | null;
  operations: OperationReport[];
  execution_policy: { stop_on_error: boolean; validate_before_commit: boolean };
  validation: {
    performed: boolean;
    passed: boolean | null;
    message: string;
    after?: { root: string; distro: string; arch: string; hostname: string } | null;
  };
  commit: {
    mode: 'in_place' | 'fixed_image' | 'none';
    target: string | null;
    format?: string;
    backup?: { path: string; bytes: number } | null;
  };
  duration_seconds: number;
}

export function newReport(data: FixRequest, image: PreparedImage, targets: FixTargets): FixReport {
  return {
    version: '1.0',
    status: 'running',
    message: '',
    phase: 'validation',
    image: { path: image.path, format: image.format },
    os: null,
    operations: data.operations.map((s) => ({
      type: s.type,
      status: 'pending',
      message: 'not run yet',
      changed: false,
      duration_seconds: 0,
      log: [],
    })),
    execution_policy: { stop_on_error: data.stopOnError, validate_before_commit: data.validateBeforeCommit },
    validation: {
      performed: false,
      passed: null,
      message: data.validateBeforeCommit ? 'not reached' : 'validate_before_commit is false',
    },
    commit: { mode: 'none', target: targets.fixedImage },
    duration_seconds: 0,
  };
}

/** Runs every step; a failed one stops the rest when stop_on_error (they are reported skipped). */
export async function runSteps(
  ctx: HandlerContext<FixRequest>,
  registry: FixOperationRegistry,
  appliance: FixAppliance,
  os: GuestOs,
  report: FixReport,
  steps: readonly FixStep[] = ctx.data.operations,
): Promise<void> {
  let halted = false;
  for (const [i, step] of steps.entries()) {
    const entry = report.operations[i];
    if (halted) {
      entry.status = 'skipped';
      entry.message = 'not run: an earlier operation failed and stop_on_error is true';
      continue;
    }
    ctx.progress(
      'fix',
      30 + Math.floor((50 * i) / steps.length),
      `Running ${step.type} (${i + 1}/${steps.length})`,
    );
    const op = registry.get(step.type);
    const log = (line: string) => {
      entry.log.push(line);
      ctx.logger.debug({ operation: step.type }, line);
    };
    const t0 = performance.now();
    try {
      if (!op) throw new Error(`fix operation '${step.type}' is no longer registered`);
      if (op.needs === 'mounted') await appliance.mount(os, log);
      else await appliance.unmount();
      const outcome = await op.run({ g: appliance.g, os, options: step.options, signal: ctx.signal, log });
      Object.assign(entry, outcome);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      entry.status = 'failed';
      entry.message = describeGuestfsError(err);
      entry.changed = false;
    }
    entry.duration_seconds = (performance.now() - t0) / 1000;
    ctx.logger.info({ operation: step.type, status: entry.status }, entry.message);
    if (entry.status === 'failed' && ctx.data.stopOnError) halted = true;
  }
}

/**
 * Re-inspects the overlay in the same appliance: the OS must still be found at the same root,
 * with the same type, distribution and architecture. Returns the problem, or null when sound.
 */
export async function validateOverlay(
  appliance: FixAppliance,
  before: GuestOs,
  report: FixReport,
): Promise<string | null> {
  const oses = await appliance.inspect();
  const after = oses.find((o) => o.root === before.root);
  report.validation.performed = true;
  report.validation.after = after
    ? { root: after.root, distro: after.distro, arch: after.arch, hostname: after.hostname }
    : null;
  let problem: string | null = null;
  if (!after) {
    problem = `the operating system at ${before.root} is no longer found`;
  } else {
    for (const key of ['type', 'distro', 'arch'] as const) {
      if (after[key] !== before[key]) {
        problem = `the guest's ${key} changed from '${before[key]}' to '${after[key]}'`;
        break;
      }
    }
  }
  report.validation.passed = problem === null;
  report.validation.message = problem ?? `re-inspection found ${before.distro} at ${before.root} again`;
  return problem;
}

// guestkit.doctor ("will this VM boot on the target?") and guestkit.migrate-plan (the same
// evidence per category, and an ordered fix plan). Both read the disk through the shared
// appliance pool like guestkit.inspect, so they share launches with other queued disk jobs.
import { OPERATIONS } from '../../protocol/vocabulary.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { reserveImages, withImages } from '../inspect/attach.js';
import { noOperatingSystem } from '../inspect/index.js';
import { writeReport } from '../inspect/output.js';
import { libguestfsAvailable } from '../image.js';
import type { HandlerContext, HandlerResult, JobHandler, ReserveContext } from '../types.js';
import { diagnose } from './evaluate.js';
import { firstReservation, imageKey, sharedFacts } from './shared.js';
import { diagnoseRoot, type Diagnosis } from './diagnose-lease.js';
import {
  validateDoctorPayload,
  validateMigratePlanPayload,
  type DoctorRequest,
  type MigratePlanRequest,
} from './payload.js';
import { fixOperations, planOf, type MigrationPlan } from './plan.js';
import type { DoctorResult } from './types.js';

export { diagnose, runChecks, scoreOf, CHECKS } from './evaluate.js';
export { planOf, fixOperations, type MigrationPlan, type PlanStep } from './plan.js';
export { TARGETS, TARGET_PROFILES, type Target, type TargetProfile } from './targets.js';
export type * from './types.js';

/**
 * Diagnoses the image's first root (the one inspection names first) on a pool lease; jobs on
 * the same image at the same time share the reading (shared.ts).
 */
export async function diagnoseImage(ctx: HandlerContext<DoctorRequest>): Promise<Diagnosis> {
  const { image, target, explain, isolated } = ctx.data;
  const read = () =>
    withImages(
      ctx,
      [image],
      async (lease, [info]) => {
        ctx.progress('os_detection', 35, 'Detecting operating systems');
        const roots = await lease.roots();
        if (roots.length === 0) throw noOperatingSystem(image.path);
        const { facts } = await diagnoseRoot(lease, roots[0], target, {
          image: info,
          signal: lease.signal,
          progress: (phase, percent, message) => ctx.progress(phase, percent, message),
        });
        return facts;
      },
      { isolated },
    );
  const facts = isolated
    ? await read()
    : await sharedFacts(await imageKey(image, ctx.config.allowedRoots), ctx.signal, read);
  return { facts, result: diagnose(facts, target, explain) };
}

/** The reserve hook: the first queued job of an image reserves its drive, the others share. */
export const reserveDoctorImage = async (ctx: ReserveContext<DoctorRequest>): Promise<void> => {
  if (!ctx.data.isolated && (await firstReservation(ctx)))
    await reserveImages((d: DoctorRequest) => ({ images: [d.image], isolated: d.isolated }))(ctx);
};

export interface DoctorResultData extends DoctorResult {
  /** The original worker's shape: the same verdict under `bootability`. */
  bootability: {
    score: number | null;
    target: string;
    blockers: DoctorResult['blockers'];
    warnings: DoctorResult['warnings'];
    checks: DoctorResult['checks'];
    summary: string;
  };
}

function withBootability(r: DoctorResult): DoctorResultData {
  return {
    ...r,
    bootability: {
      score: r.score,
      target: r.target,
      blockers: r.blockers,
      warnings: r.warnings,
      checks: r.checks,
      summary: r.summary,
    },
  };
}

async function runDoctor(ctx: HandlerContext<DoctorRequest>): Promise<HandlerResult<DoctorResultData>> {
  const { result } = await diagnoseImage(ctx);
  ctx.logger.info({ target: result.target, score: result.score, verdict: result.verdict }, 'doctor finished');
  ctx.progress('cleanup', 100, result.summary);
  return { data: withBootability(result) };
}

export interface MigratePlanResultData extends MigrationPlan {
  diagnosis: DoctorResult;
  /** guestkit.fix operations of the automatic steps (submit them as a guestkit.fix job). */
  fix_operations: ReturnType<typeof fixOperations>;
  export_path?: string;
}

async function runMigratePlan(
  ctx: HandlerContext<MigratePlanRequest>,
): Promise<HandlerResult<MigratePlanResultData>> {
  const { data } = ctx;
  const destination = data.exportFixPlan
    ? (data.export.destination ??
      join(ctx.config.resultsDir, `${ctx.jobId}-fix-plan.${data.export.format === 'json' ? 'json' : 'yaml'}`))
    : undefined;
  const { result } = await diagnoseImage(ctx);
  const plan = planOf(result);
  const out: MigratePlanResultData = { ...plan, diagnosis: result, fix_operations: fixOperations(plan) };
  if (destination) {
    if (!data.export.destination) await mkdir(ctx.config.resultsDir, { recursive: true });
    ctx.progress('result_generation', 92, `Writing the fix plan to ${destination}`);
    const exported = {
      version: '1.0',
      image: data.image.path,
      target: plan.target,
      generated_at: new Date().toISOString(),
      score: plan.score,
      predicted_score: plan.predicted_score,
      steps: plan.steps,
      fix_job: {
        operation: OPERATIONS.fix,
        payload: {
          type: 'guestkit.fix.v1',
          data: { image: { path: data.image.path }, operations: out.fix_operations },
        },
      },
    };
    // The default file is the worker's own artifact, named from the job id, beside the job's result
    // (as the original worker wrote it): the results folder is its root. A destination the job
    // names follows the output rule (allowed roots, never the worker's folders).
    const rule = data.export.destination
      ? ctx.config
      : { allowedRoots: [ctx.config.resultsDir], stateDir: ctx.config.stateDir, jobsDir: ctx.config.jobsDir };
    const file = await writeReport(
      exported,
      { format: data.export.format, destination, compression: null },
      rule,
      (n) => ctx.metrics.diskWrite(n),
    );
    if (file) out.export_path = file;
  }
  ctx.progress('cleanup', 100, `${plan.steps.length} step(s); score ${plan.score} → ${plan.predicted_score}`);
  return {
    data: out,
    ...(out.export_path ? { outputs: { primary: out.export_path, artifacts: [out.export_path] } } : {}),
  };
}

export const doctorHandler: JobHandler<DoctorRequest, DoctorResultData> = {
  operation: OPERATIONS.doctor,
  payloadTypes: ['guestkit.doctor.v1'],
  description:
    'Will this VM boot on the target hypervisor? Bootability score, blockers, warnings, per-check evidence',
  validate: (data) => validateDoctorPayload(data),
  reserve: reserveDoctorImage,
  run: runDoctor,
  available: libguestfsAvailable,
};

export const migratePlanHandler: JobHandler<MigratePlanRequest, MigratePlanResultData> = {
  operation: OPERATIONS.migratePlan,
  payloadTypes: ['guestkit.migrate-plan.v1'],
  description: 'Migration score per category and an ordered fix plan for a target hypervisor',
  validate: (data) => validateMigratePlanPayload(data),
  reserve: reserveDoctorImage,
  run: runMigratePlan,
  available: libguestfsAvailable,
};

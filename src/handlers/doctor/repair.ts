// guestkit.repair (fix: "boot"): the migrate-plan's automatic steps run through guestkit.fix's
// overlay pipeline. dry_run (the default) diagnoses through the shared pool and returns the plan
// and the predicted score. Otherwise one overlay appliance diagnoses, applies the steps,
// re-inspects and diagnoses again; only a better score (and min_score, when given) is committed.
import { OPERATIONS } from '../../protocol/vocabulary.js';
import {
  defaultFixOperations,
  fixPipelineAvailable,
  runFixPipeline,
  type FixRequest,
  type FixStep,
} from '../fix/index.js';
import type { FixReport } from '../fix/steps.js';
import type { HandlerContext, HandlerResult, JobHandler } from '../types.js';
import { diagnoseRoot } from './diagnose-lease.js';
import { diagnoseImage, reserveDoctorImage } from './index.js';
import { validateRepairPayload, type RepairRequest } from './payload.js';
import { fixOperations, planOf, type MigrationPlan } from './plan.js';
import type { DoctorResult } from './types.js';

export interface RepairResultData {
  fix: 'boot';
  target: string;
  dry_run: boolean;
  before_score: number | null;
  /** dry_run: the score once the automatic steps ran; otherwise the score re-measured after them. */
  after_score: number | null;
  predicted_score: number | null;
  applied: boolean;
  message: string;
  plan: MigrationPlan;
  before: DoctorResult;
  after?: DoctorResult;
  /** The fix pipeline's report: each operation, validation, commit. */
  report?: FixReport;
}

async function dryRun(ctx: HandlerContext<RepairRequest>): Promise<HandlerResult<RepairResultData>> {
  const { result } = await diagnoseImage(ctx);
  const plan = planOf(result);
  const data: RepairResultData = {
    fix: 'boot',
    target: result.target,
    dry_run: true,
    before_score: result.score,
    after_score: plan.predicted_score,
    predicted_score: plan.predicted_score,
    applied: false,
    message: `Dry run: ${plan.steps.filter((s) => s.operation).length} automatic step(s) would take the score from ${result.score} to ${plan.predicted_score}`,
    plan,
    before: result,
  };
  ctx.progress('cleanup', 100, data.message);
  return { data };
}

async function apply(ctx: HandlerContext<RepairRequest>): Promise<HandlerResult<RepairResultData>> {
  const { data } = ctx;
  const request: FixRequest = {
    image: {
      path: data.image.path,
      ...(data.image.format ? { format: data.image.format } : {}),
      ...(data.image.checksum ? { checksum: data.image.checksum } : {}),
      readOnly: !!data.fixedImage,
      createBackup: false,
    },
    operations: [],
    stopOnError: true,
    validateBeforeCommit: true,
    output: { ...(data.fixedImage ? { fixedImage: data.fixedImage } : {}), reportFormat: 'json' },
  };
  let before: DoctorResult | undefined;
  let after: DoctorResult | undefined;
  let plan: MigrationPlan | undefined;
  const fixCtx: HandlerContext<FixRequest> = { ...ctx, data: request };
  const result = await runFixPipeline(fixCtx, defaultFixOperations, {
    async planSteps(appliance, os): Promise<FixStep[]> {
      ctx.progress('disk_inspection', 28, `Diagnosing ${os.root} for ${data.target}`);
      before = (await diagnoseRoot(appliance.g, os.root, data.target, { signal: ctx.signal })).result;
      plan = planOf(before);
      const steps = fixOperations(plan).map((op) => ({
        type: op.type,
        options: defaultFixOperations.get(op.type)!.validateOptions(op.options ?? {}, `plan.${op.type}`),
      }));
      ctx.logger.info({ before: before.score, steps: steps.map((s) => s.type) }, 'repair plan');
      return steps;
    },
    async beforeCommit(appliance, os) {
      ctx.progress('validation', 88, 'Running the doctor again on the repaired guest');
      await appliance.unmount();
      after = (await diagnoseRoot(appliance.g, os.root, data.target, { signal: ctx.signal })).result;
      const was = before?.score ?? 0;
      const now = after.score ?? 0;
      if (plan && plan.steps.every((s) => !s.operation)) return 'nothing to repair automatically';
      if (data.minScore !== undefined && now < data.minScore)
        return `the repaired guest scores ${now}, below min_score ${data.minScore}`;
      if (now <= was) return `the repaired guest scores ${now}, not better than ${was}`;
      return null;
    },
  });
  const report = result.data;
  const out: RepairResultData = {
    fix: 'boot',
    target: data.target,
    dry_run: false,
    before_score: before!.score,
    after_score: after!.score,
    predicted_score: plan!.predicted_score,
    applied: true,
    message: `Repaired: score ${before!.score} → ${after!.score} on ${data.target}, committed to ${report.commit.target}`,
    plan: plan!,
    before: before!,
    after: after!,
    report,
  };
  ctx.progress('cleanup', 100, out.message);
  return { data: out, ...(result.outputs ? { outputs: result.outputs } : {}) };
}

export const repairHandler: JobHandler<RepairRequest, RepairResultData> = {
  operation: OPERATIONS.repair,
  payloadTypes: ['guestkit.repair.v1'],
  description:
    'Applies the boot fix plan for a target through the guestkit.fix overlay pipeline (dry run by default)',
  validate: (data) => validateRepairPayload(data),
  // The dry run reads through the pool like doctor; the real run has its own overlay appliance.
  reserve: (ctx) => (ctx.data.dryRun ? reserveDoctorImage(ctx) : Promise.resolve()),
  run: (ctx) => (ctx.data.dryRun ? dryRun(ctx) : apply(ctx)),
  // Even a dry run reads the guest with libguestfs; the real run needs the fix pipeline's tools.
  available: fixPipelineAvailable,
};

// Payloads of the migration operations, as the original worker's clients send them:
//   guestkit.doctor.v1        {image: {path, format, checksum?}, target = "kubevirt", explain = false}
//   guestkit.migrate-plan.v1  the same + export_fix_plan = false, output? {destination, format}
//   guestkit.repair.v1        {image, fix: "boot", dry_run = true, target = "kubevirt", output? {fixed_image}}
import { ValidationError } from '../../protocol/errors.js';
import { validateImage, type ImageSpec } from '../inspect/payload.js';
import { bool, invalid, obj, oneOf, str, type Obj } from '../payload-fields.js';
import { TARGETS, type Target } from './targets.js';

export interface DoctorRequest {
  image: ImageSpec;
  target: Target;
  explain: boolean;
  isolated: boolean;
}

export interface MigratePlanRequest extends DoctorRequest {
  exportFixPlan: boolean;
  /** Where the exported plan goes (default `<results dir>/<job id>-fix-plan.yaml`). */
  export: { destination?: string; format: 'json' | 'yaml' };
}

export interface RepairRequest extends DoctorRequest {
  dryRun: boolean;
  fixedImage?: string;
  /** Only commit when the re-run doctor scores at least this (default: better than before). */
  minScore?: number;
}

function base(data: unknown): { d: Obj; req: DoctorRequest } {
  const d = obj(data, 'payload.data', true) as Obj;
  const options = obj(d.options, 'payload.data.options') ?? {};
  return {
    d,
    req: {
      image: validateImage(d.image),
      target: oneOf(d.target, 'payload.data.target', TARGETS) ?? 'kubevirt',
      explain: bool(d.explain, 'payload.data.explain', false),
      isolated: bool(options.isolated_appliance, 'payload.data.options.isolated_appliance', false),
    },
  };
}

export function validateDoctorPayload(data: unknown): DoctorRequest {
  return base(data).req;
}

export function validateMigratePlanPayload(data: unknown): MigratePlanRequest {
  const { d, req } = base(data);
  const out = obj(d.output, 'payload.data.output') ?? {};
  const destination = str(out.destination, 'payload.data.output.destination');
  const format =
    oneOf(out.format, 'payload.data.output.format', ['json', 'yaml'] as const) ??
    (destination && /\.json$/i.test(destination) ? 'json' : 'yaml');
  return {
    ...req,
    exportFixPlan:
      bool(d.export_fix_plan, 'payload.data.export_fix_plan', false) || destination !== undefined,
    export: { ...(destination ? { destination } : {}), format },
  };
}

export function validateRepairPayload(data: unknown): RepairRequest {
  const { d, req } = base(data);
  const fix = str(d.fix, 'payload.data.fix') ?? 'boot';
  if (fix !== 'boot') throw invalid('payload.data.fix', `unsupported fix type '${fix}' (supported: boot)`);
  const out = obj(d.output, 'payload.data.output') ?? {};
  const fixedImage = str(out.fixed_image, 'payload.data.output.fixed_image');
  const readOnly = bool((d.image as Obj).read_only, 'payload.data.image.read_only', false);
  const dryRun = bool(d.dry_run, 'payload.data.dry_run', true);
  if (!dryRun && readOnly && !fixedImage) {
    throw new ValidationError(
      'Invalid field value: payload.data.image.read_only - the image is read-only, so guestkit.repair cannot ' +
        'commit into it; give output.fixed_image to write the repaired copy there instead',
    );
  }
  const minScore = d.min_score;
  if (minScore !== undefined && (typeof minScore !== 'number' || minScore < 0 || minScore > 100)) {
    throw invalid('payload.data.min_score', 'must be a number from 0 to 100');
  }
  return {
    ...req,
    dryRun,
    ...(fixedImage ? { fixedImage } : {}),
    ...(typeof minScore === 'number' ? { minScore } : {}),
  };
}

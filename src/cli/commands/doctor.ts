// `guestkit-worker doctor IMAGE --target T [--explain] [--fail-below N] [-o json]` and
// `guestkit-worker migrate-plan IMAGE --target T [--export plan.yaml]`: the migration checks of a
// local image, no daemon needed. doctor exits 1 below --fail-below (a CI gate).
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { AppliancePool } from '../../../lib/appliance/index.js';
import { appliancePoolOptions, resolveConfig } from '../../config.js';
import {
  doctorHandler,
  migratePlanHandler,
  TARGETS,
  type DoctorResult,
  type MigratePlanResultData,
} from '../../handlers/doctor/index.js';
import { useAppliancePool } from '../../handlers/inspect/index.js';
import type { HandlerContext, JobHandler } from '../../handlers/types.js';
import { silentLogger } from '../../logger.js';
import { JobBuilder } from '../../protocol/builder.js';
import { toJobError } from '../../protocol/errors.js';

interface Options {
  target: string;
  format?: string;
  explain?: boolean;
  failBelow?: string;
  export?: string;
  output: 'table' | 'json' | 'yaml';
}

async function runLocal<T>(handler: JobHandler<T>, payload: Record<string, unknown>): Promise<unknown> {
  const config = resolveConfig({ allowedRoots: ['/'] });
  const pool = new AppliancePool(appliancePoolOptions(config));
  useAppliancePool(pool);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  try {
    const job = new JobBuilder(handler.operation).payload(handler.payloadTypes[0], payload).build();
    const ctx: HandlerContext<T> = {
      jobId: job.job_id,
      job,
      data: handler.validate(payload, job),
      attempt: 1,
      signal: abort.signal,
      progress: (phase, percent) => {
        if (process.stderr.isTTY)
          process.stderr.write(`\r${String(Math.round(percent)).padStart(3)}% ${phase.padEnd(20)}`);
      },
      logger: silentLogger(),
      config,
      metrics: { diskRead: () => undefined, diskWrite: () => undefined, checksum: () => undefined },
    };
    return (await handler.run(ctx)).data;
  } finally {
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    process.off('SIGINT', onSignal);
    useAppliancePool(undefined);
    await pool.close();
  }
}

/** The human table: score and verdict, blockers first, then warnings, then the rest. */
export function renderDoctor(r: DoctorResult, explain = false): string {
  const lines = [
    `${r.target}: score ${r.score ?? '-'} (${r.verdict})  ${r.os.distribution} ${r.os.version} ${r.os.root}`,
    r.summary,
    '',
  ];
  const rank = (c: DoctorResult['checks'][number]) =>
    c.passed ? 3 : c.severity === 'blocker' ? 0 : c.severity === 'warning' ? 1 : 2;
  for (const c of [...r.checks].sort((a, b) => rank(a) - rank(b))) {
    const mark = c.passed
      ? 'ok     '
      : c.severity === 'blocker'
        ? 'BLOCKER'
        : c.severity === 'warning'
          ? 'WARN   '
          : 'info   ';
    lines.push(`${mark} ${c.id} ${c.category.padEnd(8)} ${c.name}: ${c.message}`);
    if (!c.passed && c.remediation) lines.push(`        fix: ${c.remediation}`);
    if (explain && !c.passed) lines.push(`        read: ${c.evidence.read.join(', ')}`);
  }
  if (r.root_cause?.primary) lines.push('', `root cause: ${r.root_cause.primary}`);
  return lines.join('\n') + '\n';
}

function renderPlan(p: MigratePlanResultData): string {
  const lines = [
    `${p.target}: score ${p.score ?? '-'} → ${p.predicted_score ?? '-'} after the automatic steps`,
    '',
  ];
  for (const [cat, v] of Object.entries(p.categories))
    lines.push(`${cat.padEnd(9)} ${String(v.score).padStart(3)}  ${v.failed} failed`);
  lines.push('');
  for (const s of p.steps)
    lines.push(
      `${s.id.padEnd(8)} ${s.operation ? s.operation.type.padEnd(22) : 'manual'.padEnd(22)} ${s.action}`,
    );
  if (p.export_path) lines.push('', `plan written to ${p.export_path}`);
  return lines.join('\n') + '\n';
}

function print(data: unknown, output: Options['output'], table: () => string): void {
  if (output === 'json') process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else if (output === 'yaml') process.stdout.write(stringify(data));
  else process.stdout.write(table());
}

const common = (cmd: Command) =>
  cmd
    .argument('<image>', 'disk image (qcow2, raw, vmdk, vdi, vhdx)')
    .addOption(
      new Option('-t, --target <target>', 'target hypervisor or cloud')
        .choices([...TARGETS])
        .default('kubevirt'),
    )
    .option('-f, --format <format>', 'image format (default: detected)')
    .option('--explain', 'root cause and what each failed check read')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    );

export function registerDoctor(program: Command): void {
  common(
    program
      .command('doctor')
      .description('Will this VM boot on the target? Score, blockers, warnings, checks'),
  )
    .option('--fail-below <score>', 'exit 1 when the score is below this (CI gate)')
    .action(async (image: string, o: Options) => {
      const threshold = o.failBelow === undefined ? undefined : Number(o.failBelow);
      if (threshold !== undefined && !(threshold >= 0 && threshold <= 100)) {
        process.stderr.write('guestkit-worker doctor: --fail-below takes a score from 0 to 100\n');
        process.exitCode = 2;
        return;
      }
      try {
        const r = (await runLocal(doctorHandler, {
          image: { path: image, format: o.format },
          target: o.target,
          explain: !!o.explain,
        })) as DoctorResult;
        print(r, o.output, () => renderDoctor(r, o.explain));
        // Not assessed (Windows) cannot pass a gate.
        if (threshold !== undefined && (r.score === null || r.score < threshold)) process.exitCode = 1;
      } catch (err) {
        const e = toJobError(err);
        process.stderr.write(`guestkit-worker doctor: ${e.code}: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  common(program.command('migrate-plan').description('Migration score per category and the ordered fix plan'))
    .option('--export <file>', 'write the plan as YAML (or JSON for *.json)')
    .action(async (image: string, o: Options) => {
      try {
        const r = (await runLocal(migratePlanHandler, {
          image: { path: image, format: o.format },
          target: o.target,
          explain: !!o.explain,
          ...(o.export ? { export_fix_plan: true, output: { destination: resolve(o.export) } } : {}),
        })) as MigratePlanResultData;
        print(r, o.output, () => renderPlan(r));
      } catch (err) {
        const e = toJobError(err);
        process.stderr.write(`guestkit-worker migrate-plan: ${e.code}: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}

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
import { renderDoctor, renderPlan } from '../render/doctor.js';

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

// `guestkit-worker inspect <image…>`: the guestkit.inspect handler run locally, no daemon. All
// images go to one appliance pool at once, so they share launches exactly as worker jobs do.
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { stringify } from 'yaml';
import { AppliancePool } from '../../../lib/appliance/index.js';
import { appliancePoolOptions, resolveConfig } from '../../config.js';
import { inspectHandler, useAppliancePool, type InspectResultData } from '../../handlers/inspect/index.js';
import type { InspectPayload } from '../../handlers/inspect/payload.js';
import type { HandlerContext } from '../../handlers/types.js';
import { silentLogger } from '../../logger.js';
import { JobBuilder } from '../../protocol/builder.js';
import { toJobError, type JobErrorInfo } from '../../protocol/errors.js';
import { colorWanted, renderError, renderInspect } from '../render/index.js';

export interface InspectCommandOptions {
  format?: string;
  checksum?: string;
  output: 'table' | 'json' | 'yaml';
  isolated?: boolean;
  full?: boolean;
}

/** One image's outcome as printed by `--output json|yaml`. */
export interface InspectCliResult {
  image: string;
  data?: InspectResultData;
  error?: JobErrorInfo;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(
      'Inspect local disk images (OS, packages, services, users, network, security); no daemon needed',
    )
    .argument('<image...>', 'disk images (qcow2, raw, vmdk, vdi, vhdx)')
    .option('-f, --format <format>', 'image format of every image (default: detected with qemu-img)')
    .option('--checksum <sha256>', 'expected SHA-256 (only with a single image)')
    .option('--isolated', 'one appliance per image (no sharing)')
    .option('--full', 'every package, service and account instead of the first ones')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .action(async (images: string[], options: InspectCommandOptions) => {
      if (options.checksum && images.length > 1) {
        process.stderr.write('guestkit-worker inspect: --checksum needs exactly one image\n');
        process.exitCode = 2;
        return;
      }
      const results = await inspectImages(images, options);
      print(results, options.output, options.full ?? false);
      if (results.some((r) => r.error)) process.exitCode = 1;
    });
}

export async function inspectImages(
  images: string[],
  options: InspectCommandOptions,
): Promise<InspectCliResult[]> {
  const config = resolveConfig({ allowedRoots: ['/'] });
  const pool = new AppliancePool(appliancePoolOptions(config));
  useAppliancePool(pool);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: '{image} [{bar}] {percentage}% {phase}',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  try {
    return await Promise.all(
      images.map(async (image): Promise<InspectCliResult> => {
        const bar = bars?.create(100, 0, { image, phase: 'queued' });
        try {
          const data = inspectHandler.validate(
            {
              image: { path: image, format: options.format, checksum: options.checksum },
              options: { isolated_appliance: options.isolated ?? false },
            },
            new JobBuilder('guestkit.inspect')
              .payload('guestkit.inspect.v1', { image: { path: image } })
              .build(),
          );
          const job = new JobBuilder('guestkit.inspect')
            .payload('guestkit.inspect.v1', { image: { path: image } })
            .build();
          const ctx: HandlerContext<InspectPayload> = {
            jobId: job.job_id,
            job,
            data,
            attempt: 1,
            signal: abort.signal,
            progress: (phase, percent) => bar?.update(Math.max(0, Math.min(100, percent)), { phase }),
            logger: silentLogger(),
            config,
            metrics: { diskRead: () => undefined, diskWrite: () => undefined, checksum: () => undefined },
          };
          const result = await inspectHandler.run(ctx);
          return { image, data: result.data as InspectResultData };
        } catch (err) {
          return { image, error: toJobError(err) };
        } finally {
          bar?.update(100, { phase: 'done' });
        }
      }),
    );
  } finally {
    bars?.stop();
    process.off('SIGINT', onSignal);
    useAppliancePool(undefined);
    await pool.close();
  }
}

function print(results: InspectCliResult[], format: InspectCommandOptions['output'], full: boolean): void {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  if (format === 'yaml') {
    process.stdout.write(stringify(results));
    return;
  }
  const color = colorWanted();
  const several = results.length > 1;
  results.forEach((r, i) => {
    // Several images: a rule with the image's name before each, so the reports cannot run together.
    if (several) process.stdout.write(`${i ? '\n' : ''}${'='.repeat(3)} ${r.image} ${'='.repeat(3)}\n`);
    if (r.error) {
      process.stderr.write(`${r.image}: ${renderError(r.error)}\n`);
      return;
    }
    process.stdout.write(renderInspect(r.data!, { full, color }));
  });
}

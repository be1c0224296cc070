// `guestkit-worker daemon`: runs the worker with the file transport (and, through hooks, the REST
// API and the metrics server). SIGTERM/SIGINT drain: stop taking jobs, let running ones finish
// within --drain-timeout, then stop them (they re-run after restart) and exit 0.
import { Command, Option } from 'commander';
import { startApi, type ServerHandle } from '../../api/index.js';
import { checkRootsPolicy, resolveConfig, type WorkerConfig, type WorkerConfigInput } from '../../config.js';
import { createLogger, type Logger } from '../../logger.js';
import { ExploreSessions } from '../../explore/sessions.js';
import { startMetrics } from '../../metrics/index.js';
import { WorkerError } from '../../protocol/errors.js';
import { FileTransport } from '../../transports/file/index.js';
import { createWorkerFor } from '../../worker/factory.js';
import { sweepOrphanAppliances } from '../../worker/orphans.js';

export interface DaemonOptions {
  workerId?: string;
  pool?: string;
  jobsDir?: string;
  resultsDir?: string;
  workDir?: string;
  stateDir?: string;
  maxConcurrent?: string;
  logLevel?: string;
  logFormat?: string;
  metricsEnabled?: string;
  metricsAddr?: string;
  metricsRequireToken?: boolean;
  apiEnabled?: string;
  apiAddr?: string;
  apiToken?: string;
  insecureNoAuth?: boolean;
  transport?: string;
  redisUrl?: string;
  role?: string;
  allowedRoots?: string;
  allowRootOverState?: boolean;
  drainTimeout?: string;
  store?: string;
  retention?: string;
  once?: boolean;
}

/** `30`, `30s`, `500ms`, `2m` → milliseconds. */
export function parseDuration(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new WorkerError('VALIDATION_ERROR', `Invalid ${what} '${value}' (e.g. 30, 30s, 500ms, 2m)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

function int(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n))
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${what} '${value}' (an integer)`);
  return n;
}

function bool(value: string | undefined, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(true|1|yes|on)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  throw new WorkerError('VALIDATION_ERROR', `Invalid ${what} '${value}' (true or false)`);
}

/** Flags → config (env and defaults fill the rest). Throws VALIDATION_ERROR on a bad flag. */
export function configFromFlags(o: DaemonOptions, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const input: WorkerConfigInput = {
    workerId: o.workerId,
    pool: o.pool,
    jobsDir: o.jobsDir,
    resultsDir: o.resultsDir,
    workDir: o.workDir,
    stateDir: o.stateDir,
    maxConcurrent: int(o.maxConcurrent, 'max concurrent jobs'),
    logLevel: o.logLevel as WorkerConfigInput['logLevel'],
    logFormat: o.logFormat as WorkerConfigInput['logFormat'],
    metrics: {
      enabled: bool(o.metricsEnabled, 'metrics enabled flag'),
      addr: o.metricsAddr,
      requireToken: o.metricsRequireToken,
    },
    api: {
      enabled: bool(o.apiEnabled, 'API enabled flag'),
      addr: o.apiAddr,
      token: o.apiToken,
      insecureNoAuth: o.insecureNoAuth,
    },
    transport: o.transport as WorkerConfigInput['transport'],
    redisUrl: o.redisUrl,
    role: o.role as WorkerConfigInput['role'],
    allowedRoots: o.allowedRoots?.split(',').filter((s) => s.trim() !== ''),
    allowRootOverState: o.allowRootOverState,
    drainTimeoutMs: o.drainTimeout === undefined ? undefined : parseDuration(o.drainTimeout, 'drain timeout'),
    store: o.store as WorkerConfigInput['store'],
    retentionSeconds: o.retention === undefined ? undefined : parseDuration(o.retention, 'retention') / 1000,
    once: o.once ?? false,
  };
  // Undefined means "not given": drop those keys so env/defaults apply.
  const clean = JSON.parse(JSON.stringify(input)) as WorkerConfigInput;
  const config = resolveConfig(clean, env);
  checkRootsPolicy(config);
  return config;
}

/** Runs the daemon until a signal (or, with --once, until the jobs present at start are done). Returns the exit code. */
export async function runDaemon(config: WorkerConfig, logger: Logger): Promise<number> {
  // Appliances and temp dirs of a previous run that was killed (their jobs re-run below).
  await sweepOrphanAppliances({
    logger,
    ...(config.orphanMinAgeMs !== undefined ? { minAgeMs: config.orphanMinAgeMs } : {}),
  });
  const worker = createWorkerFor(config, { logger });
  const transport =
    config.transport === 'file'
      ? new FileTransport({ worker, jobsDir: config.jobsDir, resultsDir: config.resultsDir, logger })
      : undefined;
  const servers: ServerHandle[] = [];

  if (config.once) {
    await worker.start();
    const n = transport ? await transport.processExisting() : 0;
    const counts = await worker.counts();
    await worker.stop();
    await transport?.stop();
    logger.info({ files: n, counts }, 'processed the jobs directory (--once); exiting');
    return 0;
  }

  // One set of explore sessions, served by the API and reported by the metrics.
  const explore = new ExploreSessions({ config, logger });
  // Metrics first so they observe everything from the first job on.
  if (config.metrics.enabled) {
    const m = await startMetrics(worker, config, logger, { defaultMetrics: true, explore });
    if (m) servers.push(m);
  }
  await worker.start();
  if (config.api.enabled) {
    const a = await startApi(worker, config, logger, { explore });
    if (a) servers.push(a);
  }
  await transport?.start();
  logger.info(
    {
      worker_id: config.workerId,
      transport: config.transport,
      jobs_dir: config.jobsDir,
      results_dir: config.resultsDir,
      state_dir: config.stateDir,
      max_concurrent: config.maxConcurrent,
    },
    'daemon ready',
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal, drain_timeout_ms: config.drainTimeoutMs }, 'shutting down: draining');
  const again = () => {
    logger.warn('second signal: exiting without waiting for running jobs (they re-run after restart)');
    logger.flush();
    process.exit(1);
  };
  process.once('SIGTERM', again);
  process.once('SIGINT', again);
  // Stop taking files, let the running jobs finish (their files are still acknowledged), then detach.
  await transport?.stopWatching();
  await worker.stop({ drainTimeoutMs: config.drainTimeoutMs });
  await transport?.stop();
  for (const s of servers)
    await s.close().catch((err: unknown) => logger.warn({ err }, 'server close failed'));
  await explore.closeAll();
  logger.info('daemon stopped');
  return 0;
}

export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description('Run the worker: watch the jobs directory, serve the API and metrics')
    .option('-w, --worker-id <id>', 'worker id (GUESTKIT_WORKER_ID; default worker-<ULID>)')
    .option('-p, --pool <name>', 'worker pool (default "default")')
    .option('-j, --jobs-dir <dir>', 'directory watched for job files (GUESTKIT_JOBS_DIR, ./jobs)')
    .option(
      '-r, --results-dir <dir>',
      'where <job_id>-result.json files go (GUESTKIT_RESULTS_DIR, ./results)',
    )
    .option('--work-dir <dir>', 'scratch space for handlers (./work)')
    .option('--state-dir <dir>', 'where the embedded job store lives (./state)')
    .option('-m, --max-concurrent <n>', 'jobs running at once (4)')
    .addOption(
      new Option('--log-level <level>', 'log level').choices([
        'trace',
        'debug',
        'info',
        'warn',
        'error',
        'silent',
      ]),
    )
    .addOption(
      new Option('--log-format <format>', 'log lines: pretty on a terminal, JSON otherwise (auto)').choices([
        'json',
        'pretty',
        'auto',
      ]),
    )
    .option('--metrics-enabled <bool>', 'serve Prometheus metrics (true)')
    .option(
      '--metrics-addr <host:port>',
      'metrics address (0.0.0.0:9090 with a token; 127.0.0.1:9090 without one)',
    )
    .option('--metrics-require-token', '/metrics asks for the API token (GUESTKIT_METRICS_REQUIRE_TOKEN)')
    .option('--api-enabled <bool>', 'serve the REST API (true)')
    .option(
      '--api-addr <host:port>',
      'REST API address (0.0.0.0:8080 with a token; 127.0.0.1:8080 without one)',
    )
    .option('--api-token <token>', 'bearer token the API requires (GUESTKIT_API_TOKEN)')
    .option(
      '--insecure-no-auth',
      'serve the API without a token on a non-loopback address (GUESTKIT_INSECURE_NO_AUTH)',
    )
    .addOption(new Option('--transport <kind>', 'job transport (file)').choices(['file', 'http', 'redis']))
    .option('--redis-url <url>', 'Redis URL for --transport redis (QUEUE_URL)')
    .addOption(new Option('--role <role>', 'redis transport role (all)').choices(['api', 'worker', 'all']))
    .option(
      '--allowed-roots <dirs>',
      'comma-separated roots images/outputs must live under (default: the jobs and work dirs)',
    )
    .option(
      '--allow-root-over-state',
      'start even if an allowed root contains the state dir (GUESTKIT_ALLOW_ROOT_OVER_STATE)',
    )
    .option('--drain-timeout <duration>', 'how long running jobs may finish on SIGTERM (30s)')
    .addOption(new Option('--store <kind>', 'job store (sqlite)').choices(['sqlite', 'memory']))
    .option('--retention <duration>', 'delete terminal jobs older than this (keep forever by default)')
    .option('--once', 'process the job files already in the jobs dir, then drain and exit')
    .action(async (options: DaemonOptions) => {
      let config: WorkerConfig;
      try {
        config = configFromFlags(options);
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const logger = createLogger({
        level: config.logLevel,
        base: { worker_id: config.workerId },
        sync: true,
        pretty: config.logFormat === 'auto' ? process.stdout.isTTY === true : config.logFormat === 'pretty',
      });
      let code: number;
      try {
        code = await runDaemon(config, logger);
      } catch (err) {
        logger.fatal({ err }, 'daemon failed');
        code = 1;
      }
      logger.flush();
      // Handles (watchers, timers) are closed; exit explicitly so nothing lingers.
      setImmediate(() => process.exit(code));
    });
}

// Flags + environment → one typed configuration shared by the daemon, the worker, the API and the
// metrics server. Precedence: explicit option (CLI flag / library argument) > environment > default.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import { WorkerError } from './protocol/errors.js';
import { PACKAGE_ROOT } from '../lib/native.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type TransportKind = 'file' | 'http' | 'redis';
export type WorkerRole = 'api' | 'worker' | 'all';
export type StoreKind = 'sqlite' | 'memory';

export interface ListenAddress {
  enabled: boolean;
  /** As given: `host:port`. */
  addr: string;
  host: string;
  port: number;
}

export interface WorkerConfig {
  workerId: string;
  pool: string;
  /** Worker software version (package.json), compared with `minimum_worker_version`. */
  version: string;
  jobsDir: string;
  resultsDir: string;
  workDir: string;
  /** Where the embedded SQLite store lives (`<stateDir>/worker.db`). */
  stateDir: string;
  store: StoreKind;
  maxConcurrent: number;
  logLevel: LogLevel;
  metrics: ListenAddress;
  api: ListenAddress & { token: string | undefined; bodyLimitBytes: number };
  transport: TransportKind;
  redisUrl: string;
  role: WorkerRole;
  /** Absolute, as configured (realpath'd when checked). Images/outputs must resolve inside one. */
  allowedRoots: string[];
  /** SIGTERM/SIGINT: how long running jobs may finish before they are aborted. */
  drainTimeoutMs: number;
  /** Daemon: process the jobs already in the jobs dir, drain, exit. */
  once: boolean;
  maxDiskSizeGb: number;
  privileged: boolean;
  dataLocality: string[];
  /** Exponential backoff between attempts: base * 2^(attempt-1), capped. */
  retry: { baseDelayMs: number; maxDelayMs: number };
  /** Progress events kept per job (older ones are dropped). */
  eventsPerJob: number;
  /** Terminal jobs older than this are deleted (null keeps them forever). */
  retentionSeconds: number | null;
  /**
   * The fast inspection (lib/inspection) answers inspect_os for the guests it knows; false forces
   * inspect_os everywhere (GUESTKIT_FAST_INSPECTION=0). Every appliance pool of the process follows it.
   */
  fastInspection: boolean;
}

/** Everything optional: what a CLI or a library user may set. */
export type WorkerConfigInput = Partial<
  Omit<WorkerConfig, 'metrics' | 'api' | 'retry'> & {
    metrics: Partial<ListenAddress>;
    api: Partial<WorkerConfig['api']>;
    retry: Partial<WorkerConfig['retry']>;
  }
>;

/** The package's version, from its package.json (the same file from src/ and dist/src/). */
function packageVersion(): string {
  try {
    const version = (
      JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }
    ).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const WORKER_VERSION = packageVersion();

export function parseAddress(addr: string, what: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${what} address '${addr}': expected host:port`);
  }
  return { host: m[1] === '' ? '0.0.0.0' : m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export function parseBool(value: string | boolean | undefined, what: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new WorkerError('VALIDATION_ERROR', `Invalid ${what}: '${value}' (use true or false)`);
}

function listen(
  input: Partial<ListenAddress> | undefined,
  envAddr: string | undefined,
  envEnabled: string | undefined,
  def: string,
  what: string,
): ListenAddress {
  const addr = input?.addr ?? envAddr ?? def;
  const { host, port } =
    input?.host !== undefined && input.port !== undefined
      ? { host: input.host, port: input.port }
      : parseAddress(addr, what);
  const enabled = input?.enabled ?? parseBool(envEnabled, `${what} enabled flag`) ?? true;
  return { enabled, addr: `${host}:${port}`, host, port };
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${what}: ${value} (must be a positive integer)`);
  }
  return value;
}

function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : Number(v);
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Builds the full configuration. Throws WorkerError(VALIDATION_ERROR) naming the bad setting. */
export function resolveConfig(
  input: WorkerConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): WorkerConfig {
  const cwd = process.cwd();
  const jobsDir = resolve(input.jobsDir ?? env.GUESTKIT_JOBS_DIR ?? './jobs');
  const resultsDir = resolve(input.resultsDir ?? env.GUESTKIT_RESULTS_DIR ?? './results');
  const workDir = resolve(input.workDir ?? env.GUESTKIT_WORK_DIR ?? './work');
  const stateDir = resolve(input.stateDir ?? env.GUESTKIT_STATE_DIR ?? './state');
  const logLevel = (input.logLevel ?? env.GUESTKIT_LOG_LEVEL ?? env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new WorkerError(
      'VALIDATION_ERROR',
      `Invalid log level '${logLevel}' (use ${LOG_LEVELS.join(', ')})`,
    );
  }
  const transport = (input.transport ?? env.GUESTKIT_TRANSPORT ?? 'file') as TransportKind;
  if (!['file', 'http', 'redis'].includes(transport)) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid transport '${transport}' (use file, http or redis)`);
  }
  const role = (input.role ?? env.GUESTKIT_ROLE ?? 'all') as WorkerRole;
  if (!['api', 'worker', 'all'].includes(role)) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid role '${role}' (use api, worker or all)`);
  }
  const store = (input.store ?? env.GUESTKIT_STORE ?? 'sqlite') as StoreKind;
  if (!['sqlite', 'memory'].includes(store)) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid store '${store}' (use sqlite or memory)`);
  }
  const rootsEnv = env.GUESTKIT_ALLOWED_ROOTS?.split(',').filter((s) => s.trim() !== '');
  const allowedRoots = (input.allowedRoots ?? rootsEnv ?? [cwd, jobsDir, resultsDir, workDir]).map((p) =>
    resolve(p.trim()),
  );
  const retention =
    input.retentionSeconds !== undefined
      ? input.retentionSeconds
      : envNumber(env, 'GUESTKIT_RETENTION_SECONDS');

  return {
    workerId: input.workerId ?? env.GUESTKIT_WORKER_ID ?? `worker-${ulid()}`,
    pool: input.pool ?? env.GUESTKIT_WORKER_POOL ?? 'default',
    version: input.version ?? WORKER_VERSION,
    jobsDir,
    resultsDir,
    workDir,
    stateDir,
    store,
    maxConcurrent: positiveInt(
      input.maxConcurrent ?? envNumber(env, 'GUESTKIT_MAX_CONCURRENT') ?? 4,
      'max concurrent jobs',
    ),
    logLevel,
    metrics: listen(
      input.metrics,
      env.GUESTKIT_METRICS_ADDR,
      env.GUESTKIT_METRICS_ENABLED,
      '0.0.0.0:9090',
      'metrics',
    ),
    api: {
      ...listen(input.api, env.GUESTKIT_API_ADDR, env.GUESTKIT_API_ENABLED, '0.0.0.0:8080', 'API'),
      token: input.api?.token ?? (env.GUESTKIT_API_TOKEN || undefined),
      bodyLimitBytes: input.api?.bodyLimitBytes ?? 2 * 1024 * 1024,
    },
    transport,
    redisUrl: input.redisUrl ?? env.QUEUE_URL ?? env.GUESTKIT_REDIS_URL ?? 'redis://127.0.0.1:6379',
    role,
    allowedRoots,
    drainTimeoutMs: input.drainTimeoutMs ?? envNumber(env, 'GUESTKIT_DRAIN_TIMEOUT_MS') ?? 30_000,
    once: input.once ?? false,
    maxDiskSizeGb: input.maxDiskSizeGb ?? envNumber(env, 'GUESTKIT_MAX_DISK_SIZE_GB') ?? 1024,
    privileged: input.privileged ?? process.getuid?.() === 0,
    dataLocality: input.dataLocality ?? [],
    retry: {
      baseDelayMs: input.retry?.baseDelayMs ?? 1000,
      maxDelayMs: input.retry?.maxDelayMs ?? 60_000,
    },
    eventsPerJob: input.eventsPerJob ?? 1000,
    retentionSeconds: retention ?? null,
    fastInspection:
      input.fastInspection ?? parseBool(env.GUESTKIT_FAST_INSPECTION, 'GUESTKIT_FAST_INSPECTION') ?? true,
  };
}

/** CPU count, for capability documents. */
export function cpuCores(): number {
  return cpus().length;
}

// Flags + environment → one typed configuration shared by the daemon, the worker, the API and the
// metrics server. Precedence: explicit option (CLI flag / library argument) > environment > default.
// Every GUESTKIT_* variable is read here and nowhere else, with one policy: an empty value is
// unset, a bad value is a VALIDATION_ERROR naming the variable (the daemon stops at start), and
// booleans accept true/false/1/0/yes/no/on/off. lib/ reads no environment: it gets options.
import { readFileSync, realpathSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ulid } from 'ulid';
import { WorkerError } from './protocol/errors.js';
import { PACKAGE_ROOT } from '../lib/native.js';
import type { AppliancePoolOptions } from '../lib/appliance/index.js';
import type { GuestfsOptions } from '../lib/guestfs.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** Log lines: JSON (for collectors), pretty (for people), auto = pretty on a terminal, else JSON. */
export type LogFormat = 'json' | 'pretty' | 'auto';
export type TransportKind = 'file' | 'http' | 'redis';
export type WorkerRole = 'api' | 'worker' | 'all';
export type StoreKind = 'sqlite' | 'memory';

/** Timing knobs of distributed mode (`GUESTKIT_REDIS_*`). */
export interface RedisTuning {
  /** Key prefix for every key guestkit writes (the BullMQ queues live under `<prefix>bull`). */
  prefix: string;
  /**
   * A job whose worker stops renewing its lock (killed, or cut off from Redis) for this long is
   * handed to another worker (BullMQ lockDuration and stalledInterval).
   */
  stallMs: number;
  /** Registration refresh; a worker that misses three is gone from GET /api/v1/workers. */
  heartbeatMs: number;
  /** How long a job this worker cannot run is set aside before another worker sees it. */
  releaseDelayMs: number;
  /** How often queue depth (the shared BullMQ counts) is refreshed for metrics. */
  queueStatsMs: number;
  /**
   * How long a job's first run may hold its start back, to write it with the run's end when the
   * run is that short (one store write per job); 0 writes every start before the handler runs.
   */
  startHoldMs: number;
}

/** The worker's appliance pool (`GUESTKIT_APPLIANCE*`, `GUESTKIT_FAST_INSPECTION`); unset = pool default. */
export interface ApplianceSettings {
  maxDrivesPerAppliance?: number;
  maxAppliances?: number;
  batchWindowMs?: number;
  reservationLingerMs?: number;
  /** False: every job gets an appliance of its own (the tenant-isolation switch). */
  sharing: boolean;
  /**
   * The fast inspection (lib/inspection) answers inspect_os for the guests it knows; false forces
   * inspect_os everywhere (GUESTKIT_FAST_INSPECTION=0).
   */
  fastInspection: boolean;
}

export interface ListenAddress {
  enabled: boolean;
  /** As given: `host:port`. */
  addr: string;
  host: string;
  port: number;
}

/** Explore sessions (src/explore): one read-only appliance each. */
export interface ExploreConfig {
  /** An idle session closes (its appliance killed) after this long. GUESTKIT_EXPLORE_TTL_MS, default 5 min. */
  ttlMs: number;
  /** Sessions open at once on this worker. GUESTKIT_EXPLORE_MAX_SESSIONS, default 4. */
  maxSessions: number;
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
  logFormat: LogFormat;
  /**
   * The metrics server: the API's bind policy (loopback without a token unless --insecure-no-auth);
   * `requireToken` (--metrics-require-token, GUESTKIT_METRICS_REQUIRE_TOKEN=1) makes /metrics ask
   * for the API token too (its /health stays open for probes).
   */
  metrics: ListenAddress & { requireToken: boolean };
  api: ListenAddress & {
    token: string | undefined;
    bodyLimitBytes: number;
    /** Requests per minute per client; null: no limit. */
    rateLimit: number | null;
    /**
     * Serve the API without a token on a non-loopback address (see {@link apiBindPolicy}); without
     * it and without a token the API stays on 127.0.0.1.
     */
    insecureNoAuth: boolean;
  };
  transport: TransportKind;
  redisUrl: string;
  role: WorkerRole;
  /**
   * Absolute, as configured (realpath'd when checked). Images/outputs must resolve inside one.
   * Default: the jobs and work folders (never the working directory: it holds the state).
   */
  allowedRoots: string[];
  /**
   * Let the daemon start with an allowed root that contains its state folder
   * (`--allow-root-over-state`, GUESTKIT_ALLOW_ROOT_OVER_STATE=1); see {@link checkRootsPolicy}.
   */
  allowRootOverState: boolean;
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
  /** Distributed mode timing. */
  redis: RedisTuning;
  appliance: ApplianceSettings;
  /** Options of every libguestfs handle the worker creates (backend settings, debug, cache dir). */
  guestfs: GuestfsOptions;
  /** The qemu-img binary. */
  qemuImg: string;
  /** Daemon start: leftover appliances younger than this are left alone (default: the sweep's own). */
  orphanMinAgeMs: number | undefined;
  explore: ExploreConfig;
}

/** Everything optional: what a CLI or a library user may set. */
export type WorkerConfigInput = Partial<
  Omit<WorkerConfig, 'metrics' | 'api' | 'retry' | 'redis' | 'appliance' | 'explore'> & {
    explore: Partial<ExploreConfig>;
    metrics: Partial<ListenAddress & { requireToken: boolean }>;
    api: Partial<WorkerConfig['api']>;
    retry: Partial<WorkerConfig['retry']>;
    redis: Partial<RedisTuning>;
    appliance: Partial<ApplianceSettings>;
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
  throw new WorkerError('VALIDATION_ERROR', `Invalid ${what} '${value}' (use true/false, 1/0 or yes/no)`);
}

/** Reads environment variables with the one policy of this file; every error names the variable. */
export class EnvReader {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private fail(name: string, raw: string, expected: string): never {
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${name} '${raw}': ${expected}`);
  }

  /** The value, or undefined when unset or empty. */
  str(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  }

  bool(name: string): boolean | undefined {
    const raw = this.str(name);
    return raw === undefined ? undefined : parseBool(raw, name);
  }

  int(name: string, min: number): number | undefined {
    const raw = this.str(name);
    if (raw === undefined) return undefined;
    const n = Number(raw.trim());
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) {
      this.fail(name, raw, `expected an integer of at least ${min}`);
    }
    return n;
  }

  choice<T extends string>(name: string, values: readonly T[]): T | undefined {
    const raw = this.str(name);
    if (raw === undefined) return undefined;
    if (!(values as readonly string[]).includes(raw.trim())) this.fail(name, raw, `use ${values.join(', ')}`);
    return raw.trim() as T;
  }

  list(name: string): string[] | undefined {
    return this.str(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
}

function listen(
  input: Partial<ListenAddress> | undefined,
  env: EnvReader,
  prefix: 'GUESTKIT_METRICS' | 'GUESTKIT_API',
  def: string,
  what: string,
): ListenAddress {
  const envAddr = env.str(`${prefix}_ADDR`);
  const addr = input?.addr ?? envAddr ?? def;
  const { host, port } =
    input?.host !== undefined && input.port !== undefined
      ? { host: input.host, port: input.port }
      : parseAddress(addr, input?.addr === undefined && envAddr !== undefined ? `${prefix}_ADDR` : what);
  const enabled = input?.enabled ?? env.bool(`${prefix}_ENABLED`) ?? true;
  return { enabled, addr: `${host}:${port}`, host, port };
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${what}: ${value} (must be a positive integer)`);
  }
  return value;
}

function checkChoice<T extends string>(value: T, values: readonly T[], what: string): T {
  if (!values.includes(value)) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${what} '${value}' (use ${values.join(', ')})`);
  }
  return value;
}

const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty', 'auto'];
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const TRANSPORTS: readonly TransportKind[] = ['file', 'http', 'redis'];
const ROLES: readonly WorkerRole[] = ['api', 'worker', 'all'];
const STORES: readonly StoreKind[] = ['sqlite', 'memory'];

/** `GUESTKIT_REDIS_*` → the distributed mode's timing. */
export function redisTuningFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTuning {
  const e = new EnvReader(env);
  const prefix = e.str('GUESTKIT_REDIS_PREFIX') ?? 'guestkit:';
  if (!/^[A-Za-z0-9._:-]+$/.test(prefix)) {
    throw new WorkerError(
      'VALIDATION_ERROR',
      `Invalid GUESTKIT_REDIS_PREFIX '${prefix}': use [A-Za-z0-9._:-]`,
    );
  }
  return {
    prefix: prefix.endsWith(':') ? prefix : `${prefix}:`,
    stallMs: e.int('GUESTKIT_REDIS_STALL_MS', 1000) ?? 30_000,
    heartbeatMs: e.int('GUESTKIT_REDIS_HEARTBEAT_MS', 100) ?? 5000,
    releaseDelayMs: e.int('GUESTKIT_REDIS_RELEASE_MS', 10) ?? 2000,
    queueStatsMs: e.int('GUESTKIT_REDIS_QUEUE_STATS_MS', 100) ?? 2000,
    startHoldMs: e.int('GUESTKIT_REDIS_START_HOLD_MS', 0) ?? 50,
  };
}

function applianceFromEnv(e: EnvReader, input: Partial<ApplianceSettings> = {}): ApplianceSettings {
  const settings: ApplianceSettings = {
    maxDrivesPerAppliance: input.maxDrivesPerAppliance ?? e.int('GUESTKIT_APPLIANCE_DRIVES', 1),
    maxAppliances: input.maxAppliances ?? e.int('GUESTKIT_APPLIANCES', 1),
    batchWindowMs: input.batchWindowMs ?? e.int('GUESTKIT_APPLIANCE_BATCH_MS', 0),
    reservationLingerMs: input.reservationLingerMs ?? e.int('GUESTKIT_APPLIANCE_LINGER_MS', 0),
    sharing: input.sharing ?? e.bool('GUESTKIT_APPLIANCE_SHARING') ?? true,
    fastInspection: input.fastInspection ?? e.bool('GUESTKIT_FAST_INSPECTION') ?? true,
  };
  // Unset numbers are left out, so the pool's own defaults apply.
  for (const k of Object.keys(settings) as (keyof ApplianceSettings)[]) {
    if (settings[k] === undefined) delete settings[k];
  }
  return settings;
}

/**
 * libguestfs handle options from the environment: `GUESTKIT_KVM=1` (no `force_tcg`), and
 * libguestfs' own LIBGUESTFS_DEBUG / LIBGUESTFS_TRACE / LIBGUESTFS_CACHEDIR (the binding creates
 * handles without libguestfs' environment parsing, so they are passed on from here).
 */
export function guestfsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): GuestfsOptions {
  const e = new EnvReader(env);
  const cachedir = e.str('LIBGUESTFS_CACHEDIR');
  return {
    backendSettings: e.bool('GUESTKIT_KVM') ? [] : ['force_tcg'],
    verbose: e.bool('LIBGUESTFS_DEBUG') ?? false,
    trace: e.bool('LIBGUESTFS_TRACE') ?? false,
    ...(cachedir ? { cachedir } : {}),
  };
}

/** The qemu-img binary (`GUESTKIT_QEMU_IMG`, default `qemu-img` on PATH). */
export function qemuImgFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return new EnvReader(env).str('GUESTKIT_QEMU_IMG') ?? 'qemu-img';
}

/** What the CLI client reads: `GUESTKIT_WORKER_API_URL` and `GUESTKIT_API_TOKEN`. */
export function clientSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  baseUrl: string | undefined;
  token: string | undefined;
} {
  const e = new EnvReader(env);
  return { baseUrl: e.str('GUESTKIT_WORKER_API_URL'), token: e.str('GUESTKIT_API_TOKEN') };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * The bind policy of the API and the metrics server, in one place: without a token they listen on
 * 127.0.0.1 unless told otherwise with `insecureNoAuth` (`--insecure-no-auth`,
 * GUESTKIT_INSECURE_NO_AUTH=1). A non-loopback address asked for explicitly without either is a
 * usage error, never a silent open port. Returns undefined for "the default of a protected server".
 */
function bindPolicy(
  addr: string | undefined,
  token: string | undefined,
  insecureNoAuth: boolean,
  what: string,
  server: { name: string; port: number },
): string | undefined {
  if (token || insecureNoAuth) return addr;
  if (addr === undefined) return `127.0.0.1:${server.port}`;
  const { host } = parseAddress(addr, what);
  if (!LOOPBACK.test(host)) {
    throw new WorkerError(
      'VALIDATION_ERROR',
      `Refusing to serve ${server.name} on ${addr} without a token: set --api-token (GUESTKIT_API_TOKEN), ` +
        `bind to 127.0.0.1, or pass --insecure-no-auth to serve it unauthenticated`,
    );
  }
  return addr;
}

/**
 * The daemon's start-up rule on roots: an allowed root containing the state folder lets a job name
 * the store (`state/worker.db`) as an image, or probe it; outputs are refused there anyway (see
 * src/worker/outputs), but reading is not. Refused unless `allowRootOverState`. Throws
 * VALIDATION_ERROR naming the root, the state folder and the way out.
 */
export function checkRootsPolicy(
  config: Pick<WorkerConfig, 'allowedRoots' | 'stateDir' | 'allowRootOverState'>,
): void {
  if (config.allowRootOverState) return;
  // Folders not created yet: the real path of the nearest existing ancestor, plus the rest.
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      const parent = dirname(p);
      return parent === p ? p : join(real(parent), basename(p));
    }
  };
  const state = real(config.stateDir);
  for (const root of config.allowedRoots) {
    const rel = relative(real(root), state);
    if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) {
      throw new WorkerError(
        'VALIDATION_ERROR',
        `Allowed root ${root} contains the worker's state folder ${config.stateDir}: jobs could read the store. ` +
          'Choose roots that do not contain it (--allowed-roots), move the state (--state-dir), ' +
          'or accept it with --allow-root-over-state (GUESTKIT_ALLOW_ROOT_OVER_STATE=1)',
        { details: { root, state_dir: config.stateDir } },
      );
    }
  }
}

/** Builds the full configuration. Throws WorkerError(VALIDATION_ERROR) naming the bad setting. */
export function resolveConfig(
  input: WorkerConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): WorkerConfig {
  const e = new EnvReader(env);
  const jobsDir = resolve(input.jobsDir ?? e.str('GUESTKIT_JOBS_DIR') ?? './jobs');
  const resultsDir = resolve(input.resultsDir ?? e.str('GUESTKIT_RESULTS_DIR') ?? './results');
  const workDir = resolve(input.workDir ?? e.str('GUESTKIT_WORK_DIR') ?? './work');
  const stateDir = resolve(input.stateDir ?? e.str('GUESTKIT_STATE_DIR') ?? './state');
  const logLevel = checkChoice(
    input.logLevel ??
      e.choice('GUESTKIT_LOG_LEVEL', LOG_LEVELS) ??
      e.choice('LOG_LEVEL', LOG_LEVELS) ??
      'info',
    LOG_LEVELS,
    'log level',
  );
  const logFormat = checkChoice(
    input.logFormat ?? e.choice('GUESTKIT_LOG_FORMAT', LOG_FORMATS) ?? 'auto',
    LOG_FORMATS,
    'log format',
  );
  const transport = checkChoice(
    input.transport ?? e.choice('GUESTKIT_TRANSPORT', TRANSPORTS) ?? 'file',
    TRANSPORTS,
    'transport',
  );
  const role = checkChoice(input.role ?? e.choice('GUESTKIT_ROLE', ROLES) ?? 'all', ROLES, 'role');
  const store = checkChoice(input.store ?? e.choice('GUESTKIT_STORE', STORES) ?? 'sqlite', STORES, 'store');
  const allowedRoots = (
    input.allowedRoots ??
    // #14: not the working directory (it holds ./state) nor the results folder (forged results).
    e.list('GUESTKIT_ALLOWED_ROOTS') ?? [jobsDir, workDir]
  ).map((p) => resolve(p.trim()));
  const apiToken = input.api?.token ?? e.str('GUESTKIT_API_TOKEN');
  const insecureNoAuth = input.api?.insecureNoAuth ?? e.bool('GUESTKIT_INSECURE_NO_AUTH') ?? false;
  const envApiAddr = e.str('GUESTKIT_API_ADDR');
  const apiAddr = bindPolicy(
    input.api?.addr ?? envApiAddr,
    apiToken,
    insecureNoAuth,
    input.api?.addr === undefined && envApiAddr !== undefined ? 'GUESTKIT_API_ADDR' : 'API',
    { name: 'the API', port: 8080 },
  );
  const envMetricsAddr = e.str('GUESTKIT_METRICS_ADDR');
  const metricsAddr = bindPolicy(
    input.metrics?.addr ?? envMetricsAddr,
    apiToken,
    insecureNoAuth,
    input.metrics?.addr === undefined && envMetricsAddr !== undefined ? 'GUESTKIT_METRICS_ADDR' : 'metrics',
    { name: 'metrics', port: 9090 },
  );
  const metricsRequireToken =
    input.metrics?.requireToken ?? e.bool('GUESTKIT_METRICS_REQUIRE_TOKEN') ?? false;
  if (metricsRequireToken && !apiToken) {
    throw new WorkerError(
      'VALIDATION_ERROR',
      'GUESTKIT_METRICS_REQUIRE_TOKEN (--metrics-require-token) needs the API token: set --api-token (GUESTKIT_API_TOKEN)',
    );
  }
  const retention =
    input.retentionSeconds !== undefined ? input.retentionSeconds : e.int('GUESTKIT_RETENTION_SECONDS', 1);

  return {
    workerId: input.workerId ?? e.str('GUESTKIT_WORKER_ID') ?? `worker-${ulid()}`,
    pool: input.pool ?? e.str('GUESTKIT_WORKER_POOL') ?? 'default',
    version: input.version ?? WORKER_VERSION,
    jobsDir,
    resultsDir,
    workDir,
    stateDir,
    store,
    maxConcurrent: positiveInt(
      input.maxConcurrent ?? e.int('GUESTKIT_MAX_CONCURRENT', 1) ?? 4,
      'max concurrent jobs',
    ),
    logLevel,
    logFormat,
    metrics: {
      ...listen(
        input.metrics?.host !== undefined ? input.metrics : { ...input.metrics, addr: metricsAddr },
        e,
        'GUESTKIT_METRICS',
        '0.0.0.0:9090',
        'metrics',
      ),
      requireToken: metricsRequireToken,
    },
    api: {
      ...listen(
        input.api?.host !== undefined ? input.api : { ...input.api, addr: apiAddr },
        e,
        'GUESTKIT_API',
        '0.0.0.0:8080',
        'API',
      ),
      token: apiToken,
      bodyLimitBytes: input.api?.bodyLimitBytes ?? 2 * 1024 * 1024,
      rateLimit:
        input.api?.rateLimit !== undefined
          ? input.api.rateLimit
          : (e.int('GUESTKIT_API_RATE_LIMIT', 1) ?? null),
      insecureNoAuth,
    },
    transport,
    redisUrl: input.redisUrl ?? e.str('QUEUE_URL') ?? e.str('GUESTKIT_REDIS_URL') ?? 'redis://127.0.0.1:6379',
    role,
    allowedRoots,
    allowRootOverState: input.allowRootOverState ?? e.bool('GUESTKIT_ALLOW_ROOT_OVER_STATE') ?? false,
    drainTimeoutMs: input.drainTimeoutMs ?? e.int('GUESTKIT_DRAIN_TIMEOUT_MS', 0) ?? 30_000,
    once: input.once ?? false,
    maxDiskSizeGb: input.maxDiskSizeGb ?? e.int('GUESTKIT_MAX_DISK_SIZE_GB', 1) ?? 1024,
    privileged: input.privileged ?? process.getuid?.() === 0,
    dataLocality: input.dataLocality ?? [],
    retry: {
      baseDelayMs: input.retry?.baseDelayMs ?? 1000,
      maxDelayMs: input.retry?.maxDelayMs ?? 60_000,
    },
    eventsPerJob: input.eventsPerJob ?? 1000,
    retentionSeconds: retention ?? null,
    redis: { ...redisTuningFromEnv(env), ...input.redis },
    appliance: applianceFromEnv(e, input.appliance),
    guestfs: input.guestfs ?? guestfsOptionsFromEnv(env),
    qemuImg: input.qemuImg ?? qemuImgFromEnv(env),
    orphanMinAgeMs: input.orphanMinAgeMs ?? e.int('GUESTKIT_ORPHAN_MIN_AGE_MS', 0),
    explore: {
      ttlMs: input.explore?.ttlMs ?? e.int('GUESTKIT_EXPLORE_TTL_MS', 100) ?? 300_000,
      maxSessions: input.explore?.maxSessions ?? e.int('GUESTKIT_EXPLORE_MAX_SESSIONS', 1) ?? 4,
    },
  };
}

/** The appliance pool options a worker of this configuration uses. */
export function appliancePoolOptions(config: Readonly<WorkerConfig>): AppliancePoolOptions {
  return { ...config.appliance, guestfs: config.guestfs };
}

/** CPU count, for capability documents. */
export function cpuCores(): number {
  return cpus().length;
}

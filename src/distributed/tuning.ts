// Timing knobs of distributed mode. Environment-driven so one daemon command line works for every
// deployment; tests shorten the stall interval and heartbeat.
import { WorkerError } from '../protocol/errors.js';

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
}

function ms(env: NodeJS.ProcessEnv, name: string, def: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid ${name} '${raw}' (milliseconds, at least ${min})`);
  }
  return n;
}

export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTuning {
  const prefix = env.GUESTKIT_REDIS_PREFIX || 'guestkit:';
  if (!/^[A-Za-z0-9._:-]+$/.test(prefix)) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid GUESTKIT_REDIS_PREFIX '${prefix}' ([A-Za-z0-9._:-])`);
  }
  return {
    prefix: prefix.endsWith(':') ? prefix : `${prefix}:`,
    stallMs: ms(env, 'GUESTKIT_REDIS_STALL_MS', 30_000, 1000),
    heartbeatMs: ms(env, 'GUESTKIT_REDIS_HEARTBEAT_MS', 5000, 100),
    releaseDelayMs: ms(env, 'GUESTKIT_REDIS_RELEASE_MS', 2000, 10),
    queueStatsMs: ms(env, 'GUESTKIT_REDIS_QUEUE_STATS_MS', 2000, 100),
  };
}

/** Protocol priority 1–10 (10 most urgent) → BullMQ priority (1 most urgent). */
export function bullPriority(priority: number): number {
  return 11 - Math.min(10, Math.max(1, Math.round(priority)));
}

/** BullMQ job id for a protocol job id: BullMQ refuses ':' and integer-looking ids; '~' never occurs in job ids. */
export function bullJobId(jobId: string): string {
  return `j_${jobId.replaceAll(':', '~')}`;
}

/** One BullMQ queue per worker pool. */
export function queueName(pool: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(pool)) {
    throw new WorkerError(
      'VALIDATION_ERROR',
      `Invalid worker pool '${pool}': use letters, digits, '.', '_' or '-' (it names a Redis queue)`,
    );
  }
  return `pool-${pool}`;
}

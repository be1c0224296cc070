// Naming and priorities of distributed mode's BullMQ queues. Its timing knobs (config.redis) are
// parsed in src/config.ts; tests shorten the stall interval and heartbeat.
import { WorkerError } from '../protocol/errors.js';

export type { RedisTuning } from '../config.js';
/** The environment's distributed-mode timing (parsed in src/config.ts with every other variable). */
export { redisTuningFromEnv as tuningFromEnv } from '../config.js';

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

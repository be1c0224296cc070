// Capability routing in distributed mode: can a given worker registration run a job? Used by API
// nodes (is there any live worker for it? if not, the job waits with a visible reason) and by
// workers (a job pulled that this worker cannot run is released for another one).
import type { WorkerConfig } from '../config.js';
import type { JobEnvelope, WorkerRegistration } from '../protocol/schema.js';
import { checkConstraints } from '../worker/capabilities.js';

/** Why `reg` cannot run `job`, or null when it can. */
export function placementProblem(
  job: JobEnvelope,
  reg: WorkerRegistration,
  base: Readonly<WorkerConfig>,
  handlerRequires: readonly string[],
): string | null {
  if (!reg.capabilities.operations.includes(job.operation)) return `no handler for ${job.operation}`;
  const wanted = job.routing?.worker_id;
  if (wanted && wanted !== reg.worker_id) return `the job is routed to worker ${wanted}`;
  const config: WorkerConfig = {
    ...base,
    workerId: reg.worker_id,
    pool: reg.configuration.worker_pool,
    maxDiskSizeGb: reg.resources.max_disk_size_gb,
    privileged: reg.configuration.privileged,
  };
  try {
    checkConstraints(job, reg, config, handlerRequires);
    return null;
  } catch (err) {
    const details = (err as { details?: { problems?: string[] } }).details;
    return details?.problems?.join('; ') ?? (err as Error).message;
  }
}

/** The waiting reason shown in a pending job's status when no live worker of its pool fits. */
export function waitingReason(pool: string, problems: { worker_id: string; problem: string }[]): string {
  if (problems.length === 0) {
    return `Waiting: no live worker in pool '${pool}'; start one with --transport redis --role worker --pool ${pool}`;
  }
  const each = problems.map((p) => `${p.worker_id}: ${p.problem}`).join(' | ');
  return `Waiting: no live worker in pool '${pool}' meets the job's constraints (${each})`;
}

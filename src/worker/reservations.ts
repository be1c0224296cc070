// Jobs waiting in the local queue, announced to their handler's optional `reserve` hook (disk
// handlers reserve the job's drives in the appliance pool, so the launch made for the running jobs
// attaches them too). Each hold ends, through its signal, when the job leaves the queue without
// running (cancel, worker stop) or once its run is over.
import type { WorkerConfig } from '../config.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Logger } from '../logger.js';
import type { JobRecord } from '../store/types.js';

export class QueueReservations {
  readonly #held = new Map<string, AbortController>();

  constructor(
    private readonly deps: { registry: HandlerRegistry; config: Readonly<WorkerConfig>; logger: Logger },
  ) {}

  /** A job that passed intake waits in the queue: let its handler prepare for it. */
  hold(job: JobRecord): void {
    const handler = this.deps.registry.get(job.operation);
    if (!handler?.reserve || this.#held.has(job.job_id)) return;
    // A retry in backoff or a job past its deadline will not start soon (or at all).
    const now = Date.now();
    if (job.not_before !== null && job.not_before > now) return;
    if (job.execution.deadline !== null && Date.parse(job.execution.deadline) <= now) return;
    let data: unknown;
    try {
      data = handler.validate(job.envelope.payload.data, job.envelope);
    } catch {
      return; // its run refuses it
    }
    const controller = new AbortController();
    this.#held.set(job.job_id, controller);
    const ctx = {
      jobId: job.job_id,
      job: job.envelope,
      data,
      config: this.deps.config,
      signal: controller.signal,
    };
    handler.reserve(ctx).catch((err: unknown) => {
      this.deps.logger.debug({ err, job_id: job.job_id }, 'could not reserve resources for a queued job');
    });
  }

  /** The job was cancelled, left the queue or has run: what was held for it is released. */
  release(jobId: string): void {
    const controller = this.#held.get(jobId);
    if (!controller) return;
    this.#held.delete(jobId);
    controller.abort();
  }

  /** Worker stop: no queued job will start here. */
  releaseAll(): void {
    for (const id of [...this.#held.keys()]) this.release(id);
  }
}

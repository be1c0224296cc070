// The store as one run of one job sees it: every transition is fenced by the attempt this run
// took (and, once assigned, by this worker's id). A worker that lost Redis long enough for another
// to take the job over keeps running, but its late writes fail the fence: the first terminal write
// of the current attempt wins and results are never duplicated.
import type { JobStatus, ProgressEvent, ResultDocument } from '../protocol/schema.js';
import type { JobRecord, JobStore, NewJob, TransitionPatch } from '../store/types.js';
import type { ListQuery } from '../worker/types.js';
import type { RedisJobStore } from './store.js';

export class RunStore implements JobStore {
  readonly kind = 'redis-run';
  private held = false;
  /** The record the processor just read: the executor's first read needs no round trip. */
  private primed: JobRecord | undefined;

  constructor(
    private readonly inner: RedisJobStore,
    private readonly workerId: string,
    /** The attempt this run expects the job to be at. */
    private attempt: number,
  ) {}

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch = {},
    result?: ResultDocument,
  ): Promise<JobRecord | undefined> {
    const guard = { attempt: this.attempt, ...(this.held ? { workerId: this.workerId } : {}) };
    const next = await this.inner.transitionIf(jobId, from, to, patch, result, guard);
    if (next) {
      this.attempt = next.attempt;
      if (to === 'assigned') this.held = true;
      if (to === 'pending') this.held = false;
    }
    return next;
  }

  open = (): Promise<void> => Promise.resolve();
  close = (): Promise<void> => Promise.resolve();
  create = (job: NewJob) => this.inner.create(job);
  prime(job: JobRecord): void {
    this.primed = job;
    this.firstRead = job;
  }

  private firstRead: JobRecord | undefined;

  get = async (jobId: string): Promise<JobRecord | undefined> => {
    const primed = this.primed;
    this.primed = undefined;
    return primed?.job_id === jobId ? primed : this.inner.get(jobId);
  };
  /**
   * Sent at once, not awaited: commands on one connection run in order in Redis, so the event
   * still lands before the run's final status and before the relayed notification of it, and the
   * run does not wait a round trip per progress call. A failed write is only logged (as before).
   */
  appendEvent = (event: ProgressEvent): Promise<void> => {
    this.inner.appendEvent(event).catch((err: unknown) => this.onEventError?.(err));
    return Promise.resolve();
  };

  onEventError: ((err: unknown) => void) | undefined;
  events = (jobId: string, after?: number) => this.inner.events(jobId, after);
  /** A job that never started has no events (they are only written while running). */
  lastSequence = (jobId: string): Promise<number> =>
    this.firstRead?.job_id === jobId && this.firstRead.started_at === null
      ? Promise.resolve(-1)
      : this.inner.lastSequence(jobId);
  result = (jobId: string) => this.inner.result(jobId);
  history = (jobId: string) => this.inner.history(jobId);
  list = (query: ListQuery) => this.inner.list(query);
  counts = () => this.inner.counts();
  pending = (limit: number) => this.inner.pending(limit);
  requeueInterrupted = (workerId?: string) => this.inner.requeueInterrupted(workerId);
  purgeTerminal = (olderThan: number) => this.inner.purgeTerminal(olderThan);
  deleteTerminal = (jobId: string) => this.inner.deleteTerminal(jobId);
  ping = () => this.inner.ping();
}

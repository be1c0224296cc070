// The store as one run of one job sees it: every transition is fenced by the attempt this run
// took (and, once assigned, by this worker's id). A worker that lost Redis long enough for another
// to take the job over keeps running, but its late writes fail the fence: the first terminal write
// of the current attempt wins and results are never duplicated.
//
// Writes are few per job: pending → assigned is held back and written with the next move
// (pending → assigned → running, one script call; its status event waits until it is written);
// progress events are buffered and go out with the next move, or at the end of the event-loop turn.
import type { JobStatus, ProgressEvent, ResultDocument } from '../protocol/schema.js';
import type { JobRecord, JobStore, NewJob, TransitionOptions, TransitionPatch } from '../store/types.js';
import type { ListQuery } from '../worker/types.js';
import { MAX_EVENTS_PER_CALL, type RedisJobStore, type RunGuard } from './store.js';

/** A pending → assigned move accepted but not written yet. */
interface Deferred {
  jobId: string;
  patch: TransitionPatch;
  /** Run once it is written (the status event); dropped if the write is refused. */
  announce: (() => void)[];
}

/** The patch's defined fields over the record (a patch never carries `undefined` on purpose). */
function patched(record: JobRecord, patch: TransitionPatch, status: JobStatus): JobRecord {
  const next: JobRecord = { ...record, status };
  for (const [k, v] of Object.entries(patch)) {
    if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
  }
  return next;
}

export class RunStore implements JobStore {
  readonly kind = 'redis-run';
  private held = false;
  /** The record the processor just read: the executor's first read needs no round trip. */
  private primed: JobRecord | undefined;
  private firstRead: JobRecord | undefined;
  private deferred: Deferred | undefined;
  private buffered: ProgressEvent[] = [];
  /** The held-back pending → assigned move was refused (the job moved, or the fence failed). */
  startRefused = false;
  onEventError: ((err: unknown) => void) | undefined;

  constructor(
    private readonly inner: RedisJobStore,
    private readonly workerId: string,
    /** The attempt this run expects the job to be at. */
    private attempt: number,
  ) {}

  private get guard(): RunGuard {
    return { attempt: this.attempt, ...(this.held ? { workerId: this.workerId } : {}) };
  }

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch = {},
    result?: ResultDocument,
    options: TransitionOptions = {},
  ): Promise<JobRecord | undefined> {
    const current = options.current;
    // The executor moves to assigned and then, without waiting on anything, to running (or to
    // failed when the payload is refused): hold the first move back and write both at once.
    if (current && to === 'assigned' && current.status === 'pending' && from.includes('pending')) {
      await this.writeDeferred();
      this.deferred = { jobId, patch, announce: [] };
      return patched(current, patch, 'assigned');
    }
    const deferred = this.deferred;
    this.deferred = undefined;
    const combine = deferred?.jobId === jobId && from.includes('assigned');
    if (deferred && !combine) await this.write(deferred);
    const events = this.takeEvents(jobId);
    const next = await this.inner.move(jobId, {
      from: combine ? ['pending'] : from,
      ...(combine ? { via: 'assigned' as const } : {}),
      to,
      patch: combine ? { ...deferred.patch, ...patch } : patch,
      result,
      guard: this.guard,
      current,
      events,
    });
    if (!next) {
      if (combine) this.startRefused = true;
      return undefined;
    }
    this.attempt = next.attempt;
    if (combine) this.confirmed(deferred);
    if (to === 'assigned') this.held = true;
    if (to === 'pending') this.held = false;
    return next;
  }

  /** Writes a held-back pending → assigned move on its own (something else came next). */
  private async writeDeferred(): Promise<void> {
    const deferred = this.deferred;
    this.deferred = undefined;
    if (deferred) await this.write(deferred);
  }

  private async write(deferred: Deferred): Promise<void> {
    const next = await this.inner.move(deferred.jobId, {
      from: ['pending'],
      to: 'assigned',
      patch: deferred.patch,
      guard: this.guard,
    });
    if (!next) {
      this.startRefused = true;
      return;
    }
    this.attempt = next.attempt;
    this.confirmed(deferred);
  }

  private confirmed(deferred: Deferred): void {
    this.held = true;
    for (const fn of deferred.announce) fn();
  }

  /** Runs `fn` once the moves accepted so far are written (at once when none is held back). */
  whenWritten(fn: () => void): void {
    if (this.deferred) this.deferred.announce.push(fn);
    else fn();
  }

  /**
   * Buffered, not awaited: the events go out with the run's next move (in the same script call,
   * before it) or at the end of this event-loop turn, so they still land before the run's final
   * status and before the relayed notification of them. A failed write is only logged.
   */
  appendEvent(event: ProgressEvent): Promise<void> {
    if (this.buffered.length > 0 && this.buffered[0].job_id !== event.job_id) this.flushEvents();
    this.buffered.push(event);
    if (this.buffered.length === 1) setImmediate(() => this.flushEvents());
    return Promise.resolve();
  }

  /** The buffered events of `jobId` for a move (older ones beyond one call's limit are sent first). */
  private takeEvents(jobId: string): ProgressEvent[] {
    if (this.buffered.length === 0) return [];
    if (this.buffered[0].job_id !== jobId) {
      this.flushEvents();
      return [];
    }
    while (this.buffered.length > MAX_EVENTS_PER_CALL)
      this.sendEvents(this.buffered.splice(0, MAX_EVENTS_PER_CALL));
    return this.buffered.splice(0);
  }

  private flushEvents(): void {
    while (this.buffered.length > 0) this.sendEvents(this.buffered.splice(0, MAX_EVENTS_PER_CALL));
  }

  private sendEvents(events: ProgressEvent[]): void {
    this.inner
      .appendEvents(events[0].job_id, events, this.guard)
      .catch((err: unknown) => this.onEventError?.(err));
  }

  open(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  create(job: NewJob) {
    return this.inner.create(job);
  }
  prime(job: JobRecord): void {
    this.primed = job;
    this.firstRead = job;
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const primed = this.primed;
    this.primed = undefined;
    if (primed?.job_id === jobId) return primed;
    await this.writeDeferred();
    return this.inner.get(jobId);
  }
  events(jobId: string, after?: number) {
    return this.inner.events(jobId, after);
  }
  /** A job that never started has no events (they are only written while running). */
  lastSequence(jobId: string): Promise<number> {
    return this.firstRead?.job_id === jobId && this.firstRead.started_at === null
      ? Promise.resolve(-1)
      : this.inner.lastSequence(jobId);
  }
  result(jobId: string) {
    return this.inner.result(jobId);
  }
  history(jobId: string) {
    return this.inner.history(jobId);
  }
  list(query: ListQuery) {
    return this.inner.list(query);
  }
  counts() {
    return this.inner.counts();
  }
  pending(limit: number) {
    return this.inner.pending(limit);
  }
  requeueInterrupted(workerId?: string) {
    return this.inner.requeueInterrupted(workerId);
  }
  purgeTerminal(olderThan: number) {
    return this.inner.purgeTerminal(olderThan);
  }
  deleteTerminal(jobId: string) {
    return this.inner.deleteTerminal(jobId);
  }
  ping() {
    return this.inner.ping();
  }
}

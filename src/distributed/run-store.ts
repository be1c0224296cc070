// The store as one run of one job sees it: every transition is fenced by the attempt this run
// took (and, once assigned, by this worker's id). A worker that lost Redis long enough for another
// to take the job over keeps running, but its late writes fail the fence: the first terminal write
// of the current attempt wins and results are never duplicated.
//
// Writes are few per job. The start (pending → assigned → running) is one write, made before the
// handler runs. On a job's first delivery, when the record it starts from is the one it was
// submitted with and its handler is pure (processor.ts, worker.ts), the start may be held longer
// (holdStartMs): it is written with the run's end when the run ends within the hold (one script
// call for a short job's whole life), else when the hold runs out, with the progress events
// reported meanwhile. Nothing about the run is announced before its start is written
// (whenWritten). A worker that dies during the hold leaves no trace of the run: BullMQ re-delivers
// the job, still pending at the same attempt, and it runs as that attempt (it consumed none).
// Progress events are buffered and go out with the next move, or at the end of the event-loop turn.
import { isTerminal, type JobStatus, type ProgressEvent, type ResultDocument } from '../protocol/schema.js';
import type { JobRecord, JobStore, NewJob, TransitionOptions, TransitionPatch } from '../store/types.js';
import type { ListQuery } from '../worker/types.js';
import { MAX_EVENTS_PER_CALL, type Move, type RedisJobStore, type RunGuard } from './store.js';

export interface RunStoreOptions {
  /**
   * Hold the start back up to this long once the handler runs (0: write it before; the worker
   * passes GUESTKIT_REDIS_START_HOLD_MS, 50 by default, on a first delivery). A job that ends
   * sooner is written once; a longer one shows `running` at most this late. A cancel that lands
   * meanwhile finds the job pending and wins: the start is refused and the run is stopped
   * (onStartLost).
   */
  holdStartMs?: number;
}

/** The start of the run, accepted but not written yet: pending → … → `to`. */
interface HeldStart {
  jobId: string;
  /** Statuses passed through before `to`, with when each was entered. */
  via: { status: JobStatus; at: number }[];
  to: JobStatus;
  /** When `to` was entered. */
  at: number;
  patch: TransitionPatch;
  /** Run once it is written (status and progress notices); dropped if the write is refused. */
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
  private start: HeldStart | undefined;
  /** A held start whose write is in flight (what it announces still waits for the reply). */
  private writing: HeldStart | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  /** A held start being written because its hold ran out: later moves wait for it. */
  private starting: Promise<void> | undefined;
  private buffered: ProgressEvent[] = [];
  /** The start was refused before the handler ran (the job moved, or the fence failed). */
  startRefused = false;
  onEventError: ((err: unknown) => void) | undefined;
  /** The start was refused while the handler ran (written after its hold): the run must stop. */
  onStartLost: (() => void) | undefined;

  constructor(
    private readonly inner: RedisJobStore,
    private readonly workerId: string,
    /** The attempt this run expects the job to be at. */
    private attempt: number,
    private readonly options: RunStoreOptions = {},
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
    if (this.starting) await this.starting;
    const current = options.current;
    const now = Date.now();
    // The executor moves to assigned and then, without waiting on anything, to running (or to
    // failed when the payload is refused): hold both back.
    if (current && to === 'assigned' && current.status === 'pending' && from.includes('pending')) {
      await this.writeStart();
      this.start = { jobId, via: [], to, at: now, patch, announce: [] };
      return patched(current, patch, to);
    }
    const start = this.start;
    const holdMs = this.options.holdStartMs ?? 0;
    if (
      holdMs > 0 &&
      current &&
      start?.jobId === jobId &&
      start.to === 'assigned' &&
      to === 'running' &&
      from.includes('assigned')
    ) {
      start.via.push({ status: start.to, at: start.at });
      start.to = to;
      start.at = now;
      start.patch = { ...start.patch, ...patch };
      this.holdTimer = setTimeout(() => this.holdRanOut(), holdMs);
      return patched(current, patch, to);
    }
    // The next move ends the held start: into one write when it goes on from where the start
    // ends (a payload refused once assigned, or a run's end); a return to pending (retry,
    // shutdown) is written after the start, so each history entry keeps its attempt.
    const combine =
      start?.jobId === jobId && from.includes(start.to) && (start.to === 'assigned' || isTerminal(to));
    if (start && !combine && !(await this.writeStart())) return undefined;
    this.dropStart();
    const events = this.takeEvents(jobId);
    const move: Move = { from, to, patch, result, guard: this.guard, current, events };
    const next = combine
      ? await this.carry(start, {
          ...move,
          from: ['pending'],
          via: [...start.via, { status: start.to, at: start.at }],
          patch: { ...start.patch, ...patch },
        })
      : await this.inner.move(jobId, move);
    if (!next) return undefined;
    this.attempt = next.attempt;
    if (to === 'assigned') this.held = true;
    if (to === 'pending') this.held = false;
    return next;
  }

  private dropStart(): void {
    this.start = undefined;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  /** The run outlived its hold: its start is written now, with the events it has reported. */
  private holdRanOut(): void {
    const start = this.start;
    if (!start) return;
    this.starting = this.writeStart()
      .then(() => undefined)
      .catch(() => this.onStartLost?.()) // its end cannot be written either
      .finally(() => (this.starting = undefined));
  }

  /** Writes a held start on its own (something else came next, or its hold ran out); false when refused. */
  private async writeStart(): Promise<boolean> {
    const start = this.start;
    if (!start) return true;
    this.dropStart();
    const next = await this.carry(start, {
      from: ['pending'],
      ...(start.via.length > 0 ? { via: start.via } : {}),
      to: start.to,
      patch: start.patch,
      guard: this.guard,
      events: start.to === 'running' ? this.takeEvents(start.jobId) : [],
    });
    if (next) this.attempt = next.attempt;
    return next !== undefined;
  }

  /**
   * Sends a move that carries the held `start` (alone, or merged with the move after it). What the
   * start announces waits for the reply (`writing`), and runs in the same continuation as it, so
   * nothing can slip in between. Once it is sent, every later write of this run is fenced by the
   * worker id too: if it is refused (a cancel, or another worker started the job at the same
   * attempt after a lost lock), nothing the run sends afterwards can land on the job.
   */
  private async carry(start: HeldStart, move: Move): Promise<JobRecord | undefined> {
    this.writing = start;
    const moving = this.inner.move(start.jobId, move);
    this.held = true;
    let next: JobRecord | undefined;
    try {
      next = await moving;
    } finally {
      this.writing = undefined;
    }
    if (!next) {
      // Refused before the handler ran: the processor decides again from the stored job. After:
      // the handler runs for a job that is no longer this run's (cancelled, taken over).
      if (start.to === 'assigned') this.startRefused = true;
      else this.onStartLost?.();
      return undefined;
    }
    this.confirmed(start);
    return next;
  }

  /** The run is over: a start still held back is dropped, never written (its timer too). */
  dispose(): void {
    this.dropStart();
  }

  private confirmed(start: HeldStart): void {
    this.held = true;
    for (const fn of start.announce) fn();
  }

  /** Runs `fn` once the moves accepted so far are written (at once when none is held back). */
  whenWritten(fn: () => void): void {
    const waiting = this.start ?? this.writing;
    if (waiting) waiting.announce.push(fn);
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
    // A held start goes out with the events reported meanwhile: before they outgrow one call.
    if (this.start?.to === 'running' && this.buffered.length >= MAX_EVENTS_PER_CALL) this.holdRanOut();
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
    if (this.start) return; // they go out with the start
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
    await this.writeStart();
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

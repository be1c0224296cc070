// Running the jobs BullMQ delivers to this worker: each delivery becomes one fenced run (its own
// RunStore and Executor). A fresh job starts from the record its queue entry carries; anything
// else (a retry, a job whose worker died, one this worker cannot run) is decided from the stored
// job: taken over as a new attempt, released for later or for another worker, or dropped.
import { DelayedError, type Job as BullJob } from 'bullmq';
import type { Logger } from '../logger.js';
import { isTerminal } from '../protocol/schema.js';
import type { JobRecord, JobStore } from '../store/types.js';
import { shutdownReason } from '../worker/attempt.js';
import type { Emit, Executor } from '../worker/executor.js';
import { RunStore } from './run-store.js';
import type { RedisJobStore } from './store.js';
import type { RedisTuning } from './tuning.js';

export interface QueueData {
  job_id: string;
  /**
   * The job's record as created (first delivery of a fresh job needs no read). Absent on entries
   * queued again from the store (orphans). May be stale: the run's first write checks status and
   * attempt, and a refused start falls back to reading the job.
   */
  record?: JobRecord;
}

/** A job running in this process: its fenced executor and the attempt it runs. */
interface LocalRun {
  executor: Executor;
  attempt: number;
}

/** What the processor needs of its worker. */
export interface ProcessorHost {
  readonly id: string;
  readonly store: RedisJobStore;
  readonly tuning: RedisTuning;
  readonly logger: Logger;
  draining(): boolean;
  /** How long a first run of `job` may hold its start back (0: write it before the handler runs). */
  startHoldMs(job: JobRecord): number;
  /** Why this worker cannot run `job` (constraints, routing, missing tools), or null. */
  cannotRun(job: JobRecord): Promise<string | null>;
  executorFor(store: JobStore, emit: Emit): Executor;
  /** Emits locally and relays to other processes. */
  emitAll: Emit;
  /** A job was fetched from the queue. */
  fetched(): void;
  /** The set of running jobs changed. */
  runsChanged(): void;
}

export class JobProcessor {
  /** Jobs this process is running, each with its own fenced executor. */
  private readonly runs = new Map<string, LocalRun>();

  constructor(private readonly host: ProcessorHost) {}

  get active(): number {
    return this.runs.size;
  }

  runningIds(): string[] {
    return [...this.runs.keys()];
  }

  /** Fires a running job's cancel signal (no-op when it does not run here). */
  cancel(jobId: string): void {
    this.runs.get(jobId)?.executor.cancelRunning(jobId);
  }

  /** Stops every run (drain timeout): they re-queue. */
  abortAll(): void {
    for (const r of this.runs.values()) r.executor.abortAll(shutdownReason());
  }

  /** Another worker took `jobId` over from `attempt`: a run of that attempt here must stop its work. */
  abortStale(jobId: string, attempt: number): void {
    const run = this.runs.get(jobId);
    if (!run || run.attempt > attempt) return;
    this.host.logger.warn({ job_id: jobId, attempt }, 'stopping a run another worker has taken over');
    // Interrupted: its fenced writes fail, so it leaves no status or result behind.
    run.executor.abortAll(shutdownReason());
  }

  /** Puts the BullMQ job back (delayed until `at`) for any worker; the processor must return by throwing. */
  private async release(job: BullJob<QueueData>, token: string | undefined, at: number): Promise<never> {
    await job.moveToDelayed(Math.max(at, Date.now()), token);
    throw new DelayedError();
  }

  async process(bullJob: BullJob<QueueData>, token: string | undefined): Promise<void> {
    const jobId = bullJob.data.job_id;
    this.host.fetched();
    const queued = bullJob.data.record;
    if (
      queued?.job_id === jobId &&
      queued.status === 'pending' &&
      queued.not_before === null &&
      !this.host.draining() &&
      (await this.host.cannotRun(queued)) === null
    ) {
      // As submitted: the start (pending at this attempt → running) is the first write. Refused
      // (cancelled, retried, taken over, deleted meanwhile): decide again from the stored job.
      // Its first delivery (BullMQ counts starts): the record is as submitted, so the start may
      // be held back and written with a short run's end.
      const hold = bullJob.attemptsStarted <= 1 ? this.host.startHoldMs(queued) : 0;
      const fresh = this.newRun(jobId, queued.attempt, hold);
      const done = await this.runJob(bullJob, token, queued, fresh, true);
      if (!fresh.runStore.startRefused) return done;
    }
    const rec = await this.host.store.get(jobId);
    if (!rec || isTerminal(rec.status)) return; // cancelled while queued, or a late duplicate delivery
    if (this.host.draining()) return this.release(bullJob, token, Date.now());
    const problem = await this.host.cannotRun(rec);
    if (problem) {
      const message = `Released by ${this.host.id}: ${problem}; waiting for a worker that can run it`;
      this.host.logger.info({ job_id: jobId, problem }, 'released a job this worker cannot run');
      await this.host.store.setWaitingReason(jobId, { phase: 'scheduling', percent: 0, message });
      return this.release(bullJob, token, Date.now() + this.host.tuning.releaseDelayMs);
    }
    let current = rec;
    const run = this.newRun(jobId, rec.attempt);
    if (rec.status === 'assigned' || rec.status === 'running') {
      // Its worker stopped holding the lock (killed, or cut off from Redis): this is a new attempt.
      const next = await run.executor.move(rec, [rec.status], 'pending', {
        attempt: rec.attempt + 1,
        worker_id: null,
        not_before: null,
      });
      if (!next) return;
      current = next;
      // If the old run is still alive somewhere (it lost Redis, not its life), stop its work.
      this.abortStale(jobId, rec.attempt);
      await this.host.store.redis
        .publish(`${this.host.tuning.prefix}takeover`, `${rec.attempt}|${jobId}`)
        .catch(() => undefined);
      this.host.logger.warn(
        { job_id: jobId, previous_worker: rec.worker_id, attempt: next.attempt },
        'took over a job whose worker stopped renewing its lock',
      );
    } else if (rec.not_before !== null && rec.not_before > Date.now()) {
      return this.release(bullJob, token, rec.not_before);
    }
    return this.runJob(bullJob, token, current, run);
  }

  /** A fenced run store and an executor over it for one run of `jobId` at `attempt`. */
  private newRun(
    jobId: string,
    attempt: number,
    holdStartMs = 0,
  ): { runStore: RunStore; executor: Executor } {
    const runStore = new RunStore(this.host.store, this.host.id, attempt, {
      holdStartMs,
    });
    runStore.onEventError = (err) =>
      this.host.logger.warn({ err, job_id: jobId }, 'could not store a progress event');
    // Nothing about the run is announced before its start is written (the run store holds it).
    const executor = this.host.executorFor(runStore, (event, ...args) =>
      runStore.whenWritten(() => this.host.emitAll(event, ...args)),
    );
    // Its start was refused after the handler began (a cancel or a takeover won): stop the work.
    runStore.onStartLost = () => executor.abortAll(shutdownReason());
    return { runStore, executor };
  }

  /** Runs the pending job `current` through the executor and settles its BullMQ entry. */
  private async runJob(
    bullJob: BullJob<QueueData>,
    token: string | undefined,
    current: JobRecord,
    { runStore, executor }: { runStore: RunStore; executor: Executor },
    /** From the queue entry's record: a refused start is left to the caller. */
    unread = false,
  ): Promise<void> {
    const jobId = current.job_id;
    runStore.prime(current);
    const run: LocalRun = { executor, attempt: current.attempt };
    this.runs.set(jobId, run);
    this.host.runsChanged();
    let outcome;
    try {
      outcome = await executor.execute(jobId);
    } finally {
      runStore.dispose();
      if (this.runs.get(jobId) === run) this.runs.delete(jobId);
      this.host.runsChanged();
    }
    if (unread && runStore.startRefused) return; // the caller decides from the stored job
    if (outcome.kind === 'requeued') {
      const at = outcome.reason === 'retry' ? (outcome.job.not_before ?? Date.now()) : Date.now();
      return this.release(bullJob, token, at);
    }
    if (outcome.kind === 'skipped') {
      // Skipped because Redis failed mid-run (not because someone else moved it): keep the queue
      // entry, so the job is not stranded without one; the next delivery takes it over.
      const after = await this.host.store.get(jobId);
      const ours = after?.worker_id === this.host.id && after.attempt === run.attempt;
      if (after && !isTerminal(after.status) && (after.status === 'pending' || ours)) {
        return this.release(bullJob, token, Date.now() + this.host.tuning.releaseDelayMs);
      }
    }
  }
}

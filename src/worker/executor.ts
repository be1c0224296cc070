// The status machine around one job: pending → assigned → running → completed | failed |
// cancelled | timeout, with retries (recoverable failures while attempt < max_attempts, after an
// exponential backoff) and crash-safe re-queueing at shutdown. Every transition goes through the
// store as a compare-and-set, then is announced as a `status` event.
import type { WorkerConfig } from '../config.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { AnyHandler } from '../handlers/types.js';
import type { Logger } from '../logger.js';
import {
  WorkerError,
  asWorkerError,
  isCodedError,
  toJobError,
  type JobErrorInfo,
} from '../protocol/errors.js';
import type { JobStatus, ProgressEvent, ResultDocument, TerminalStatus } from '../protocol/schema.js';
import type { JobRecord, JobStore, TransitionPatch } from '../store/types.js';
import { cancelReason, runAttempt } from './attempt.js';
import { backoffMs } from './scheduler.js';
import type { WorkerEventName, WorkerEvents } from './types.js';

export type Emit = <E extends WorkerEventName>(event: E, ...args: WorkerEvents[E]) => void;

export interface ExecutorDeps {
  store: JobStore;
  registry: HandlerRegistry;
  config: Readonly<WorkerConfig>;
  logger: Logger;
  emit: Emit;
}

export type ExecuteOutcome =
  | { kind: 'finished'; status: TerminalStatus; job: JobRecord }
  /** Back to pending: a retry after backoff, or re-queued because the worker is shutting down. */
  | { kind: 'requeued'; job: JobRecord; reason: 'retry' | 'shutdown' }
  /** Someone else moved it first (cancelled while queued, already run). */
  | { kind: 'skipped' };

interface Running {
  /** Aborts the attempt (bound once it starts). */
  abort: (reason: WorkerError) => void;
  cancellable: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Queued records kept in memory at most; past that (a deep backlog) runs read their row. */
const MAX_REMEMBERED = 10_000;

/** The failure-form result document for a job that ends without (or before) running. */
export function failureResult(
  job: JobRecord,
  status: Exclude<TerminalStatus, 'completed'>,
  error: JobErrorInfo,
  workerId: string,
  at: number,
): ResultDocument {
  const started = job.started_at ?? at;
  const doc: ResultDocument = {
    job_id: job.job_id,
    status,
    failed_at: iso(at),
    worker_id: workerId,
    execution_summary: {
      started_at: iso(started),
      duration_seconds: Math.max(0, (at - started) / 1000),
      attempt: job.attempt,
    },
    error,
    outputs: { artifacts: [] },
  };
  if (job.execution.idempotency_key !== null)
    doc.execution_summary.idempotency_key = job.execution.idempotency_key;
  if (job.envelope.observability) doc.observability = job.envelope.observability;
  return doc;
}

export class Executor {
  private readonly running = new Map<string, Running>();
  /** When each live job entered its current status (for `seconds_in_previous`). */
  private readonly since = new Map<string, number>();
  /**
   * Records of queued jobs as the worker last saw them (from the submission or the previous
   * attempt), so a run need not read and parse the row again; the store's compare-and-set still
   * decides whether the job is pending. `fresh`: never ran, so it has no progress events yet.
   */
  private readonly queued = new Map<string, { job: JobRecord; fresh: boolean }>();

  constructor(private readonly deps: ExecutorDeps) {}

  get active(): number {
    return this.running.size;
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /**
   * Records that a job entered `pending` now (submit, recovery, retry). With `job` (its current
   * record) the run starts from it; `fresh` says it was just created (no events to continue).
   */
  noteQueued(jobId: string, at = Date.now(), job?: JobRecord, fresh = false): void {
    this.since.set(jobId, at);
    if (job && this.queued.size < MAX_REMEMBERED) this.queued.set(jobId, { job, fresh });
  }

  /** The current record of a job put back in the queue (a retry), for its next run. */
  remember(job: JobRecord): void {
    if (this.queued.size < MAX_REMEMBERED) this.queued.set(job.job_id, { job, fresh: false });
  }

  /**
   * CAS transition + status event. Returns the new record or undefined if the job was not in
   * one of `from` (someone else moved it).
   */
  async move(
    job: JobRecord,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch = {},
    result?: ResultDocument,
  ): Promise<JobRecord | undefined> {
    const now = Date.now();
    // assigned/running need not be durable before the job proceeds: after a crash either one is
    // re-queued the same way. Terminal statuses and returns to pending are awaited to disk.
    const durable = to !== 'assigned' && to !== 'running';
    const next = await this.deps.store.transition(job.job_id, from, to, patch, result, {
      durable,
      current: job,
    });
    if (!next) return undefined;
    const prevAt = this.since.get(job.job_id);
    if (to === 'completed' || to === 'failed' || to === 'cancelled' || to === 'timeout') {
      this.since.delete(job.job_id);
      this.queued.delete(job.job_id);
    } else {
      this.since.set(job.job_id, now);
    }
    this.deps.emit('status', {
      job_id: job.job_id,
      operation: job.operation,
      from: job.status,
      to,
      attempt: next.attempt,
      timestamp: iso(now),
      seconds_in_previous: prevAt === undefined ? null : (now - prevAt) / 1000,
      seconds_since_submit: (now - job.submitted_at) / 1000,
      ...(next.error && to !== 'pending' ? { error: next.error } : {}),
    });
    return next;
  }

  /** Ends a job that will not run (or run again) with a failure-form result document. */
  async finishWithout(
    job: JobRecord,
    from: readonly JobStatus[],
    status: Exclude<TerminalStatus, 'completed'>,
    error: JobErrorInfo,
  ): Promise<JobRecord | undefined> {
    const at = Date.now();
    const doc = failureResult(job, status, error, this.deps.config.workerId, at);
    const next = await this.move(job, from, status, { completed_at: at, error }, doc);
    if (next) {
      this.deps.emit('job:finished', {
        job_id: job.job_id,
        operation: job.operation,
        status,
        duration_seconds: doc.execution_summary.duration_seconds,
        attempt: job.attempt,
        error,
      });
    }
    return next;
  }

  /** Aborts a running job's attempt (cancel). */
  cancelRunning(jobId: string): 'stopping' | 'not_cancellable' | 'not_running' {
    const r = this.running.get(jobId);
    if (!r) return 'not_running';
    if (!r.cancellable) return 'not_cancellable';
    r.abort(cancelReason(jobId));
    return 'stopping';
  }

  /** Aborts every running job (shutdown after the drain timeout); they are re-queued. */
  abortAll(reason: WorkerError): void {
    for (const r of this.running.values()) r.abort(reason);
  }

  /** Runs one attempt of a pending job through the whole status machine. Never rejects. */
  async execute(jobId: string): Promise<ExecuteOutcome> {
    try {
      return await this.executeUnsafe(jobId);
    } catch (err) {
      // A store failure mid-run: log loudly; the job stays in its last durable status and is
      // recovered (re-queued) at the next start.
      this.deps.logger.error({ err, job_id: jobId }, 'job execution failed inside the worker');
      return { kind: 'skipped' };
    }
  }

  private async executeUnsafe(jobId: string): Promise<ExecuteOutcome> {
    const { store, registry, config, logger, emit } = this.deps;
    const known = this.queued.get(jobId);
    this.queued.delete(jobId);
    let job = known?.job ?? (await store.get(jobId));
    if (!job || job.status !== 'pending') return { kind: 'skipped' };

    const assigned = await this.move(job, ['pending'], 'assigned', { worker_id: config.workerId });
    if (!assigned) return { kind: 'skipped' };
    job = assigned;

    const handler = registry.get(job.operation);
    let data: unknown;
    let refusal: WorkerError | undefined;
    if (!handler) {
      refusal = new WorkerError('UNSUPPORTED_OPERATION', `Unsupported operation: ${job.operation}`, {
        phase: 'validation',
      });
    } else {
      try {
        data = handler.validate(job.envelope.payload.data, job.envelope);
      } catch (err) {
        refusal = isCodedError(err) ? asWorkerError(err) : new WorkerError('VALIDATION_ERROR', String(err));
      }
    }
    if (!refusal && job.execution.deadline !== null && Date.parse(job.execution.deadline) <= Date.now()) {
      refusal = new WorkerError(
        'DEADLINE_EXCEEDED',
        `Job ${job.job_id} passed its deadline ${job.execution.deadline}`,
        {
          phase: 'validation',
          details: { deadline: job.execution.deadline },
        },
      );
    }
    if (refusal || !handler) {
      const error = toJobError(refusal, 'validation');
      const done = await this.finishWithout(job, ['assigned'], 'failed', error);
      return done ? { kind: 'finished', status: 'failed', job: done } : { kind: 'skipped' };
    }

    const startedAt = Date.now();
    const runningJob = await this.move(job, ['assigned'], 'running', { started_at: startedAt, error: null });
    if (!runningJob) return { kind: 'skipped' };
    job = runningJob;

    // A cancel or shutdown before the attempt binds its abort is kept and handed over then.
    let early: WorkerError | undefined;
    const running: Running = { abort: (r) => (early ??= r), cancellable: job.execution.cancellable };
    this.running.set(job.job_id, running);
    const jobLog = logger.child({
      job_id: job.job_id,
      operation: job.operation,
      attempt: job.attempt,
      ...(job.envelope.observability?.trace_id ? { trace_id: job.envelope.observability.trace_id } : {}),
    });
    jobLog.info('job started');

    // Progress writes are chained so they land in order, and all land before the final status.
    let progressChain: Promise<void> = Promise.resolve();
    const onProgress = (event: ProgressEvent) => {
      progressChain = progressChain
        .then(() => store.appendEvent(event, { durable: false }))
        .then(() => emit('progress', event))
        .catch((err: unknown) => jobLog.warn({ err }, 'could not store a progress event'));
    };

    let outcome;
    try {
      outcome = await runAttempt({
        jobId: job.job_id,
        envelope: job.envelope,
        data,
        attempt: job.attempt,
        timeoutSeconds: job.execution.timeout_seconds,
        deadline: job.execution.deadline,
        idempotencyKey: job.execution.idempotency_key,
        handler: handler as AnyHandler,
        workerId: config.workerId,
        config,
        logger: jobLog,
        bindAbort: (abort) => {
          running.abort = abort;
          if (early) abort(early);
        },
        firstSequence: known?.fresh ? 0 : (await store.lastSequence(job.job_id)) + 1,
        onProgress,
        onDiskIo: (read, write) => emit('disk:io', { job_id: jobId, read_bytes: read, write_bytes: write }),
        onChecksum: (status) => emit('checksum', { job_id: jobId, status }),
      });
    } finally {
      this.running.delete(job.job_id);
    }
    await progressChain;

    emit('handler:executed', {
      job_id: job.job_id,
      handler: job.operation,
      status: outcome.status === 'completed' ? 'success' : 'error',
      duration_seconds: outcome.durationSeconds,
      attempt: job.attempt,
    });

    if (outcome.status === 'interrupted') {
      const next = await this.move(job, ['running'], 'pending', {
        attempt: job.attempt + 1,
        worker_id: null,
        not_before: null,
      });
      jobLog.warn('job interrupted by shutdown; re-queued');
      return next ? { kind: 'requeued', job: next, reason: 'shutdown' } : { kind: 'skipped' };
    }

    const error = outcome.error;
    if (
      error &&
      (outcome.status === 'failed' || outcome.status === 'timeout') &&
      error.recoverable &&
      job.attempt < job.execution.max_attempts
    ) {
      const nextAttempt = job.attempt + 1;
      const notBefore =
        Date.now() + backoffMs(nextAttempt, config.retry.baseDelayMs, config.retry.maxDelayMs);
      const next = await this.move(job, ['running'], 'pending', {
        attempt: nextAttempt,
        not_before: notBefore,
        worker_id: null,
        error,
      });
      jobLog.warn(
        { error, next_attempt: nextAttempt, not_before: iso(notBefore) },
        'attempt failed; will retry',
      );
      return next ? { kind: 'requeued', job: next, reason: 'retry' } : { kind: 'skipped' };
    }

    const status = outcome.status;
    const at = Date.now();
    const done = await this.move(
      job,
      ['running'],
      status,
      { completed_at: at, error: error ?? null, not_before: null },
      outcome.result,
    );
    if (!done) return { kind: 'skipped' };
    emit('job:finished', {
      job_id: job.job_id,
      operation: job.operation,
      status,
      duration_seconds: outcome.durationSeconds,
      attempt: job.attempt,
      ...(error ? { error } : {}),
    });
    if (status === 'completed') jobLog.info({ duration_seconds: outcome.durationSeconds }, 'job completed');
    else jobLog.warn({ status, error }, 'job ended without success');
    return { kind: 'finished', status, job: done };
  }
}

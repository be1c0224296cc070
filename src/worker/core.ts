// The worker's core, written once for both queues: intake and the submit outcome mapping, reads,
// cancel, waitFor, health, state, retention and the drain deadline. The local worker (SQLite +
// the priority scheduler) and the distributed one (Redis + BullMQ) extend it and supply only
// what differs: how a created job is queued, how a queued or running job is stopped, how
// capabilities are checked and what the queue health says.
import { EventEmitter } from 'node:events';
import { appliancePoolOptions, type WorkerConfig } from '../config.js';
import { closeSharedAppliancePoolIfIdle, configureSharedAppliancePool } from '../../lib/appliance/index.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { ResultOf } from '../handlers/results.js';
import type { Logger } from '../logger.js';
import { WorkerError, type JobErrorInfo } from '../protocol/errors.js';
import { canonicalJson } from '../protocol/parse.js';
import type { OperationName } from '../protocol/payloads/index.js';
import type { JobStatus, ProgressEvent, ResultDocument, WorkerState } from '../protocol/schema.js';
import { isTerminal } from '../protocol/vocabulary.js';
import type { CreateOutcome, JobRecord, JobStore, NewJob } from '../store/types.js';
import { intakeEnvelope, validatePayload, type Intake } from './intake.js';
import type {
  CancelOutcome,
  HealthCheck,
  HealthReport,
  JobStatusDocument,
  ListPage,
  ListQuery,
  RemoveOutcome,
  StatusChangeEvent,
  StopOptions,
  SubmitOptions,
  SubmitResult,
  SubmittedJob,
  TransportEvent,
  WorkerEvents,
} from './types.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toStatusDocument(job: JobRecord): JobStatusDocument {
  const doc: JobStatusDocument = {
    job_id: job.job_id,
    operation: job.operation,
    status: job.status,
    attempt: job.attempt,
    max_attempts: job.execution.max_attempts,
    priority: job.execution.priority,
    submitted_at: new Date(job.submitted_at).toISOString(),
    started_at: iso(job.started_at),
    completed_at: iso(job.completed_at),
    worker_id: job.worker_id,
    progress: job.progress,
  };
  const image = imageOf(job.envelope);
  if (image) doc.image = image;
  if (job.execution.idempotency_key !== null) doc.idempotency_key = job.execution.idempotency_key;
  if (job.error && job.status !== 'completed') doc.error = job.error;
  return doc;
}

const pathAt = (data: Record<string, unknown>, key: string): string | undefined => {
  const v = data[key];
  const path = typeof v === 'object' && v !== null ? (v as { path?: unknown }).path : undefined;
  return typeof path === 'string' ? path : undefined;
};

/**
 * The disk image a job works on, for lists and filters: `image`, or a conversion's `source`, or
 * a comparison's `baseline → target`. Undefined for jobs without one (echo).
 */
export function imageOf(envelope: JobRecord['envelope']): string | undefined {
  // Defensive: a record read back while its job is being deleted may come without its document.
  const data = (envelope as JobRecord['envelope'] | null)?.payload?.data;
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const baseline = pathAt(d, 'baseline');
  const target = pathAt(d, 'target');
  if (baseline && target) return `${baseline} → ${target}`;
  return pathAt(d, 'image') ?? pathAt(d, 'source');
}

/** Resolves true when `ms` passed before `promise` settled (the drain deadline). */
export async function timedOut(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error of a job cancelled before it ran. */
export function cancelledBeforeRun(jobId: string): JobErrorInfo {
  return {
    code: 'CANCELLED',
    message: `Job ${jobId} was cancelled before it ran`,
    recoverable: false,
    retry_recommended: false,
  };
}

export interface CoreOptions {
  registry: HandlerRegistry;
  logger: Logger;
  healthChecks: Record<string, () => Promise<HealthCheck>>;
  /** Also re-read the job this often in waitFor (events from other processes can be missed). */
  waitPollMs?: number;
}

export abstract class WorkerCore<S extends JobStore = JobStore> extends EventEmitter<WorkerEvents> {
  readonly config: Readonly<WorkerConfig>;
  protected abstract readonly store: S;
  protected readonly registry: HandlerRegistry;
  protected readonly logger: Logger;
  protected readonly healthChecks: Record<string, () => Promise<HealthCheck>>;
  protected currentState: WorkerState = 'offline';
  protected startedAt = 0;
  protected starting: Promise<void> | undefined;
  protected stopping: Promise<void> | undefined;
  private readonly waitPollMs: number | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(config: WorkerConfig, options: CoreOptions) {
    super();
    this.setMaxListeners(0);
    this.config = Object.freeze({ ...config });
    this.registry = options.registry;
    this.logger = options.logger;
    this.healthChecks = options.healthChecks;
    this.waitPollMs = options.waitPollMs;
    configureSharedAppliancePool({
      ...appliancePoolOptions(this.config),
      // Operators see launches, solo retries and kills in the worker's log.
      logger: this.logger,
      onLaunched: (e) => this.emit('appliance:launched', e),
    });
  }

  get id(): string {
    return this.config.workerId;
  }

  get state(): WorkerState {
    return this.currentState;
  }

  protected setState(state: WorkerState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  /** Starts the store and the queue (re-queues jobs a crash interrupted). Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Stops taking jobs, lets running ones finish within the drain timeout, stops the rest. Idempotent. */
  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.drainAndStop(options.drainTimeoutMs ?? this.config.drainTimeoutMs);
    return this.stopping;
  }

  private async drainAndStop(drainTimeoutMs: number): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    this.setState('draining');
    this.stopRetention();
    await this.doStop(drainTimeoutMs);
    await closeSharedAppliancePoolIfIdle(); // no qemu outlives the worker, whichever its queue
    this.setState('offline');
    this.logger.info('worker stopped');
  }

  // ---- what each queue supplies ----

  protected abstract doStart(): Promise<void>;
  /** Drains (within `drainTimeoutMs`, then aborts what still runs) and closes the queue and store. */
  protected abstract doStop(drainTimeoutMs: number): Promise<void>;

  /** Checks a submission against what can run it (throws CAPABILITY_MISMATCH…). */
  protected abstract admit(intake: Intake): Promise<void>;
  /** Stores the new job (the distributed store also files it under its pool). */
  protected abstract createRecord(job: NewJob, intake: Intake): Promise<CreateOutcome>;
  /** Queues a job `createRecord` created and announces it (the pending status event). */
  protected abstract enqueueCreated(job: JobRecord, intake: Intake, now: number): Promise<void>;
  /** Cancels a pending/assigned job; false when it moved meanwhile. */
  protected abstract cancelQueued(job: JobRecord, error: JobErrorInfo): Promise<boolean>;
  /** Stops a running cancellable job; false when it turns out not cancellable. */
  protected abstract stopRunning(job: JobRecord): Promise<boolean>;
  /** The queue line of health(): depth and running jobs. */
  protected abstract queueSummary(): string;

  /** The status event of a job just created. */
  protected pendingEvent(job: JobRecord, now: number): StatusChangeEvent {
    return {
      job_id: job.job_id,
      operation: job.operation,
      from: null,
      to: 'pending',
      attempt: job.attempt,
      timestamp: new Date(now).toISOString(),
      seconds_in_previous: null,
      seconds_since_submit: 0,
    };
  }

  protected requireRunning(): void {
    if (this.currentState === 'draining' || this.stopping) {
      throw new WorkerError(
        'WORKER_UNAVAILABLE',
        'The worker is draining and accepts no new jobs; submit to another worker',
      );
    }
    if (this.currentState === 'offline') {
      throw new WorkerError('WORKER_UNAVAILABLE', 'The worker is not started (call start() first)');
    }
  }

  /** Deletes terminal jobs older than config.retentionSeconds, now and periodically; failures are logged. */
  protected startRetention(): void {
    const seconds = this.config.retentionSeconds;
    if (seconds === null) return;
    const sweep = async () => {
      try {
        const n = await this.store.purgeTerminal(Date.now() - seconds * 1000);
        if (n > 0) this.logger.info({ purged: n }, 'purged old terminal jobs');
      } catch (err) {
        this.logger.warn({ err }, 'retention sweep failed');
      }
    };
    void sweep();
    this.retentionTimer = setInterval(sweep, Math.min(3600, Math.max(1, seconds / 10)) * 1000);
    this.retentionTimer.unref();
  }

  protected stopRetention(): void {
    clearInterval(this.retentionTimer);
  }

  // ---- the Worker interface ----

  async submit(input: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
    this.requireRunning();
    const intake = intakeEnvelope(input, this.registry);
    const { envelope, execution, warnings } = intake;
    await this.admit(intake);
    validatePayload(intake);
    for (const w of warnings) this.logger.warn({ job_id: envelope.job_id }, w);

    const now = Date.now();
    const outcome = await this.createRecord(
      {
        job_id: envelope.job_id,
        operation: envelope.operation,
        payload_type: envelope.payload.type,
        attempt: execution.attempt,
        execution,
        submitted_at: now,
        envelope,
        source: options.source ?? 'library',
        document: canonicalJson(envelope),
      },
      intake,
    );
    const job = outcome.job;
    switch (outcome.kind) {
      case 'created':
        await this.enqueueCreated(job, intake, now);
        this.logger.debug(
          { job_id: job.job_id, source: options.source, origin: options.origin },
          'job accepted',
        );
        return { job_id: job.job_id, status: 'pending', created: true };
      case 'same_document':
        return { job_id: job.job_id, status: job.status, created: false, reason: 'same_document' };
      case 'idempotent_completed':
        return { job_id: job.job_id, status: job.status, created: false, reason: 'idempotency_key' };
      case 'duplicate_job_id':
        throw new WorkerError(
          'DUPLICATE_JOB_ID',
          `A different job with id ${job.job_id} was already submitted; use a new job_id`,
          { details: { job_id: job.job_id, status: job.status } },
        );
      case 'idempotent_in_flight':
        throw new WorkerError(
          'DUPLICATE_IN_PROGRESS',
          `Job ${job.job_id} with idempotency key '${execution.idempotency_key}' is still ${job.status}; ` +
            'wait for it to finish',
          { details: { job_id: job.job_id, status: job.status, idempotency_key: execution.idempotency_key } },
        );
    }
  }

  async get(jobId: string): Promise<JobStatusDocument | undefined> {
    const job = await this.store.get(jobId);
    return job ? toStatusDocument(job) : undefined;
  }

  result(jobId: string): Promise<ResultDocument | undefined>;
  result<Op extends OperationName>(jobId: string, operation: Op): Promise<ResultOf<Op> | undefined>;
  async result(jobId: string, operation?: OperationName): Promise<ResultDocument | undefined> {
    if (operation !== undefined) {
      const job = await this.store.get(jobId);
      if (job && job.operation !== operation)
        throw new WorkerError(
          'VALIDATION_ERROR',
          `Job ${jobId} is a ${job.operation} job, not ${operation}; ask for its result as ${job.operation}`,
          { details: { job_id: jobId, operation: job.operation } },
        );
    }
    return this.store.result(jobId);
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
    const page = await this.store.list(query);
    return { jobs: page.jobs.map(toStatusDocument), total: page.total, next_cursor: page.next_cursor };
  }

  events(jobId: string, afterSequence?: number): Promise<ProgressEvent[]> {
    return this.store.events(jobId, afterSequence);
  }

  counts(): Promise<Record<JobStatus, number>> {
    return this.store.counts();
  }

  async submitted(jobId: string): Promise<SubmittedJob | undefined> {
    const job = await this.store.get(jobId);
    if (!job) return undefined;
    const history = await this.store.history(jobId);
    return {
      envelope: job.envelope,
      source: job.source,
      history: history.map((h) => ({
        from: h.from,
        to: h.to,
        at: new Date(h.at).toISOString(),
        attempt: h.attempt,
      })),
    };
  }

  async remove(jobId: string): Promise<RemoveOutcome> {
    if (await this.store.deleteTerminal(jobId)) return { outcome: 'deleted', job_id: jobId };
    const job = await this.store.get(jobId);
    return job
      ? { outcome: 'not_terminal', job_id: jobId, status: job.status }
      : { outcome: 'not_found', job_id: jobId };
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const job = await this.store.get(jobId);
    if (!job) return { outcome: 'not_found', job_id: jobId };
    if (isTerminal(job.status)) return { outcome: 'already_terminal', job_id: jobId, status: job.status };
    if (job.status === 'pending' || job.status === 'assigned') {
      if (await this.cancelQueued(job, cancelledBeforeRun(jobId))) {
        return { outcome: 'cancelled', job_id: jobId, status: 'cancelled' };
      }
      return this.cancel(jobId); // it moved meanwhile (started or finished): decide again
    }
    // running
    if (!job.execution.cancellable || !(await this.stopRunning(job))) {
      return { outcome: 'not_cancellable', job_id: jobId, status: job.status };
    }
    return { outcome: 'stopping', job_id: jobId, status: 'running' };
  }

  waitFor(jobId: string, options: { signal?: AbortSignal } = {}): Promise<JobStatusDocument> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        this.off('status', onStatus);
        clearInterval(poll);
        options.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const check = async () => {
        const doc = await this.get(jobId);
        if (!doc) finish(() => reject(new WorkerError('NOT_FOUND', `Job ${jobId} not found`)));
        else if (isTerminal(doc.status)) finish(() => resolve(doc));
      };
      const onStatus = (e: WorkerEvents['status'][0]) => {
        if (e.job_id === jobId && isTerminal(e.to))
          check().catch((err: unknown) => finish(() => reject(err)));
      };
      const onAbort = () => finish(() => reject(options.signal?.reason));
      const poll =
        this.waitPollMs === undefined
          ? undefined
          : setInterval(() => check().catch(() => undefined), this.waitPollMs);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.on('status', onStatus);
      check().catch((err: unknown) => finish(() => reject(err)));
    });
  }

  async health(): Promise<HealthReport> {
    const checks: Record<string, HealthCheck> = {};
    const t0 = performance.now();
    try {
      await Promise.race([
        this.store.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref()),
      ]);
      checks.store = { status: 'ok', latency_ms: Math.round((performance.now() - t0) * 100) / 100 };
    } catch (err) {
      checks.store = { status: 'error', message: `${this.store.kind}: ${(err as Error).message}` };
    }
    checks.queue = {
      status: this.currentState === 'draining' || this.currentState === 'offline' ? 'degraded' : 'ok',
      message: this.queueSummary(),
    };
    await Promise.all(
      Object.entries(this.healthChecks).map(async ([name, fn]) => {
        checks[name] = await fn().catch((err: unknown) => ({
          status: 'error' as const,
          message: String(err),
        }));
      }),
    );
    const status =
      checks.store.status === 'error'
        ? 'unhealthy'
        : Object.values(checks).some((c) => c.status !== 'ok')
          ? 'degraded'
          : 'healthy';
    return {
      status,
      timestamp: new Date().toISOString(),
      uptime_seconds: this.startedAt ? (Date.now() - this.startedAt) / 1000 : 0,
      checks,
    };
  }

  reportTransport(event: 'transport:fetch' | 'transport:error', data: TransportEvent): void {
    this.emit(event, data);
  }
}

// The local worker: one process, an embedded store, a priority scheduler and the executor.
// The daemon, the REST API and library users all drive this same object.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { appliancePoolOptions, resolveConfig, type WorkerConfig, type WorkerConfigInput } from '../config.js';
import { defaultRegistry } from '../handlers/index.js';
import { handlerAvailability, type HandlerRegistry } from '../handlers/registry.js';
import { silentLogger, type Logger } from '../logger.js';
import { WorkerError } from '../protocol/errors.js';
import { canonicalJson } from '../protocol/parse.js';
import type {
  JobStatus,
  ProgressEvent,
  ResultDocument,
  WorkerRegistration,
  WorkerState,
} from '../protocol/schema.js';
import { isTerminal } from '../protocol/schema.js';
import { SqliteStore } from '../store/sqlite.js';
import type { JobRecord, JobStore } from '../store/types.js';
import {
  closeSharedAppliancePoolIfIdle,
  configureSharedAppliancePool,
  sharedAppliancePoolStatus,
} from '../../lib/appliance/index.js';
import { libguestfsAvailability } from '../../lib/native.js';
import { shutdownReason } from './attempt.js';
import { buildRegistration, CapabilityProbe, checkConstraints, type FeatureProbe } from './capabilities.js';
import { Executor } from './executor.js';
import { intakeEnvelope, validatePayload } from './intake.js';
import { QueueReservations } from './reservations.js';
import { LocalScheduler } from './scheduler.js';
import type {
  CancelOutcome,
  HealthCheck,
  HealthReport,
  JobStatusDocument,
  ListPage,
  ListQuery,
  StopOptions,
  SubmitOptions,
  SubmitResult,
  TransportEvent,
  Worker,
  WorkerEvents,
} from './types.js';

export interface CreateWorkerOptions {
  /** Defaults to SQLite at `<stateDir>/worker.db` (or in memory when config.store is 'memory'). */
  store?: JobStore;
  /** Defaults to the shared default registry (echo + whatever `registerHandler` added). */
  registry?: HandlerRegistry;
  logger?: Logger;
  /** Extra capability probes (e.g. libguestfs `available()` groups from the binding). */
  featureProbes?: FeatureProbe[];
  /** Extra health checks, merged into `health().checks` (e.g. `libguestfs`). */
  healthChecks?: Record<string, () => Promise<HealthCheck>>;
}

/** How long the capability snapshot is reused (handler availability can change with the machine). */
const CAPABILITY_TTL_MS = 5000;

interface CapabilitySnapshot {
  capabilities: WorkerRegistration['capabilities'];
  /** Operations whose handlers are available. */
  available: Set<string>;
}

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
  if (job.execution.idempotency_key !== null) doc.idempotency_key = job.execution.idempotency_key;
  if (job.error && job.status !== 'completed') doc.error = job.error;
  return doc;
}

/** Default libguestfs check: the libguestfs binding loads (it links libguestfs.so.0). */
async function libguestfsCheck(): Promise<HealthCheck> {
  const binding = libguestfsAvailability();
  if (!binding.available) return { status: 'error', message: binding.reason };
  // What the appliance pool is doing, once a disk job created it (readiness at a glance).
  const pool = sharedAppliancePoolStatus();
  if (!pool) return { status: 'ok' };
  const message =
    `appliances ${pool.appliances} up, ${pool.drives} drives, ${pool.running} running, ` +
    `${pool.queued} queued, ${pool.reserved} reserved`;
  return { status: 'ok', message };
}

export class LocalWorker extends EventEmitter<WorkerEvents> implements Worker {
  readonly config: Readonly<WorkerConfig>;
  private readonly store: JobStore;
  private readonly registry: HandlerRegistry;
  private readonly logger: Logger;
  private readonly probe: CapabilityProbe;
  private readonly executor: Executor;
  private readonly scheduler: LocalScheduler;
  /** Queued jobs' handlers prepare for them (disk jobs' drives join the next appliance launch). */
  private readonly reservations: QueueReservations;
  private readonly healthChecks: Record<string, () => Promise<HealthCheck>>;
  private currentState: WorkerState = 'offline';
  private startedAt = 0;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private snapshot: { revision: number; expires: number; value: Promise<CapabilitySnapshot> } | undefined;

  constructor(config: WorkerConfig, options: CreateWorkerOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.config = Object.freeze({ ...config });
    this.logger = options.logger ?? silentLogger();
    this.registry = options.registry ?? defaultRegistry;
    configureSharedAppliancePool(appliancePoolOptions(this.config));
    this.store =
      options.store ??
      new SqliteStore({
        path: config.store === 'memory' ? ':memory:' : join(config.stateDir, 'worker.db'),
        eventsPerJob: config.eventsPerJob,
      });
    this.probe = new CapabilityProbe(options.featureProbes);
    this.healthChecks = { libguestfs: libguestfsCheck, ...options.healthChecks };
    this.executor = new Executor({
      store: this.store,
      registry: this.registry,
      config: this.config,
      logger: this.logger,
      // Typed at the Emit boundary; EventEmitter's own generic cannot see through the spread.
      emit: (event, ...args) => (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args),
    });
    this.reservations = new QueueReservations({
      registry: this.registry,
      config: this.config,
      logger: this.logger,
    });
    this.scheduler = new LocalScheduler({
      maxConcurrent: config.maxConcurrent,
      run: (entry) => this.runEntry(entry.job_id),
      onChange: (depth, active) => {
        this.emit('queue', { depth, active });
        this.updateState();
      },
    });
  }

  get id(): string {
    return this.config.workerId;
  }

  get state(): WorkerState {
    return this.currentState;
  }

  private setState(state: WorkerState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private updateState(): void {
    if (this.currentState !== 'ready' && this.currentState !== 'busy') return;
    this.setState(this.scheduler.active >= this.config.maxConcurrent ? 'busy' : 'ready');
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    await this.store.open();
    await this.probe.get();
    const recovered = await this.store.requeueInterrupted();
    for (const job of recovered) {
      this.logger.warn(
        { job_id: job.job_id, attempt: job.attempt },
        're-queued a job interrupted by a crash',
      );
    }
    this.startedAt = Date.now();
    this.setState('ready');
    // Everything pending (submitted earlier, recovered, waiting for a retry) goes into the queue.
    let after: { priority: number; seq: number } | undefined;
    for (;;) {
      const batch = await this.store.pending(10_000, after);
      let added = 0;
      for (const job of batch) {
        after = { priority: job.execution.priority, seq: job.seq };
        if (this.scheduler.has(job.job_id)) continue;
        this.executor.noteQueued(job.job_id);
        this.scheduler.enqueue({
          job_id: job.job_id,
          priority: job.execution.priority,
          seq: job.seq,
          not_before: job.not_before,
        });
        if (this.scheduler.has(job.job_id)) this.reservations.hold(job);
        added++;
      }
      if (batch.length < 10_000 || added === 0) break;
    }
    if (this.config.retentionSeconds !== null) this.scheduleRetention(this.config.retentionSeconds);
    this.logger.info(
      {
        worker_id: this.id,
        recovered: recovered.length,
        pending: this.scheduler.depth,
        store: this.store.kind,
      },
      'worker started',
    );
  }

  private scheduleRetention(seconds: number): void {
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

  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.doStop(options.drainTimeoutMs ?? this.config.drainTimeoutMs);
    return this.stopping;
  }

  private async doStop(drainTimeoutMs: number): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    this.setState('draining');
    this.scheduler.pause();
    this.reservations.releaseAll(); // nothing queued starts here any more
    clearInterval(this.retentionTimer);
    const active = this.scheduler.active;
    if (active > 0) {
      this.logger.info({ active, drain_timeout_ms: drainTimeoutMs }, 'draining: waiting for running jobs');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.scheduler.idle().then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.logger.warn(
          { active: this.scheduler.active },
          'drain timeout: stopping running jobs (they will re-run)',
        );
        this.executor.abortAll(shutdownReason());
        await this.scheduler.idle();
      }
    }
    this.scheduler.clear();
    await closeSharedAppliancePoolIfIdle(); // no qemu outlives the worker
    await this.store.close();
    this.setState('offline');
    this.logger.info('worker stopped');
  }

  private async runEntry(jobId: string): Promise<void> {
    const outcome = await this.executor.execute(jobId);
    this.reservations.release(jobId); // its run claimed it, or never will
    if (outcome.kind === 'requeued' && outcome.reason === 'retry' && this.currentState !== 'draining') {
      const j = outcome.job;
      this.executor.remember(j);
      this.scheduler.enqueue({
        job_id: j.job_id,
        priority: j.execution.priority,
        seq: j.seq,
        not_before: j.not_before,
      });
      if (this.scheduler.has(j.job_id)) this.reservations.hold(j);
    }
  }

  private requireRunning(): void {
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

  async submit(input: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
    this.requireRunning();
    const intake = intakeEnvelope(input, this.registry);
    const { envelope, execution, warnings, handler } = intake;
    const caps = await this.capabilitySnapshot();
    // Without constraints, routing or handler requirements there is nothing to compare.
    if (envelope.constraints || envelope.routing?.worker_pool || handler.requires?.length) {
      checkConstraints(
        envelope,
        { version: this.config.version, capabilities: caps.capabilities },
        this.config,
        handler.requires,
      );
    }
    if (!caps.available.has(envelope.operation)) {
      // The refusal path asks the handler again, for an up-to-date reason.
      const availability = await handlerAvailability(handler);
      if (!availability.available) {
        throw new WorkerError(
          'CAPABILITY_MISMATCH',
          `Worker ${this.id} cannot run ${envelope.operation}: ${availability.reason ?? 'its tools are missing'}`,
          { phase: 'validation', details: { operation: envelope.operation, reason: availability.reason } },
        );
      }
      this.snapshot = undefined; // available again: the snapshot is out of date
    }
    validatePayload(intake);
    for (const w of warnings) this.logger.warn({ job_id: envelope.job_id }, w);

    const now = Date.now();
    const outcome = await this.store.create({
      job_id: envelope.job_id,
      operation: envelope.operation,
      payload_type: envelope.payload.type,
      attempt: execution.attempt,
      execution,
      submitted_at: now,
      envelope,
      source: options.source ?? 'library',
      document: canonicalJson(envelope),
    });
    const job = outcome.job;
    switch (outcome.kind) {
      case 'created':
        this.executor.noteQueued(job.job_id, now, job, true);
        this.emit('status', {
          job_id: job.job_id,
          operation: job.operation,
          from: null,
          to: 'pending',
          attempt: job.attempt,
          timestamp: new Date(now).toISOString(),
          seconds_in_previous: null,
          seconds_since_submit: 0,
        });
        this.scheduler.enqueue({
          job_id: job.job_id,
          priority: execution.priority,
          seq: job.seq,
          not_before: null,
        });
        // Still queued (all slots busy): its drives may join the launch the running jobs make.
        if (this.scheduler.has(job.job_id)) this.reservations.hold(job);
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

  async result(jobId: string): Promise<ResultDocument | undefined> {
    return this.store.result(jobId);
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
    const page = await this.store.list(query);
    return { jobs: page.jobs.map(toStatusDocument), total: page.total, next_cursor: page.next_cursor };
  }

  async events(jobId: string, afterSequence?: number): Promise<ProgressEvent[]> {
    return this.store.events(jobId, afterSequence);
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const job = await this.store.get(jobId);
    if (!job) return { outcome: 'not_found', job_id: jobId };
    if (isTerminal(job.status)) return { outcome: 'already_terminal', job_id: jobId, status: job.status };
    if (job.status === 'pending' || job.status === 'assigned') {
      const error = {
        code: 'CANCELLED' as const,
        message: `Job ${jobId} was cancelled before it ran`,
        recoverable: false,
        retry_recommended: false,
      };
      const done = await this.executor.finishWithout(job, ['pending', 'assigned'], 'cancelled', error);
      if (done) {
        this.scheduler.remove(jobId);
        this.reservations.release(jobId);
        return { outcome: 'cancelled', job_id: jobId, status: 'cancelled' };
      }
      return this.cancel(jobId); // it moved meanwhile (started or finished): decide again
    }
    // running
    if (!job.execution.cancellable) return { outcome: 'not_cancellable', job_id: jobId, status: job.status };
    const r = this.executor.cancelRunning(jobId);
    if (r === 'not_cancellable') return { outcome: 'not_cancellable', job_id: jobId, status: job.status };
    return { outcome: 'stopping', job_id: jobId, status: 'running' };
  }

  waitFor(jobId: string, options: { signal?: AbortSignal } = {}): Promise<JobStatusDocument> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.off('status', onStatus);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const check = async () => {
        const doc = await this.get(jobId);
        if (!doc) {
          cleanup();
          reject(new WorkerError('NOT_FOUND', `Job ${jobId} not found`));
        } else if (isTerminal(doc.status)) {
          cleanup();
          resolve(doc);
        }
      };
      const onStatus = (e: WorkerEvents['status'][0]) => {
        if (e.job_id === jobId && isTerminal(e.to)) check().catch(reject);
      };
      const onAbort = () => {
        cleanup();
        reject(options.signal?.reason);
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.on('status', onStatus);
      check().catch((err: unknown) => {
        cleanup();
        reject(err);
      });
    });
  }

  /**
   * What submissions are checked against: probed features and formats (once) and the operations
   * whose handlers are available, cached for CAPABILITY_TTL_MS or until the registry changes.
   * Asking every handler's available() on every submission was a large share of intake cost.
   */
  private capabilitySnapshot(): Promise<CapabilitySnapshot> {
    const now = Date.now();
    const cached = this.snapshot;
    if (cached && cached.revision === this.registry.revision && cached.expires > now) return cached.value;
    const value = (async (): Promise<CapabilitySnapshot> => {
      const [probed, operations] = await Promise.all([this.probe.get(), this.registry.availableOperations()]);
      return { capabilities: { operations, ...probed }, available: new Set(operations) };
    })();
    this.snapshot = { revision: this.registry.revision, expires: now + CAPABILITY_TTL_MS, value };
    value.catch(() => {
      if (this.snapshot?.value === value) this.snapshot = undefined;
    });
    return value;
  }

  async capabilities(): Promise<WorkerRegistration> {
    const caps = await this.capabilitySnapshot();
    return buildRegistration({
      config: this.config,
      operations: caps.capabilities.operations,
      probed: caps.capabilities,
      registeredAt: new Date(this.startedAt || Date.now()).toISOString(),
      state: this.currentState,
      currentJobs: this.scheduler.active,
    });
  }

  async counts(): Promise<Record<JobStatus, number>> {
    return this.store.counts();
  }

  async health(): Promise<HealthReport> {
    const checks: Record<string, HealthCheck> = {};
    const t0 = performance.now();
    try {
      await this.store.ping();
      checks.store = { status: 'ok', latency_ms: Math.round((performance.now() - t0) * 100) / 100 };
    } catch (err) {
      checks.store = { status: 'error', message: (err as Error).message };
    }
    checks.queue = {
      status: this.currentState === 'draining' || this.currentState === 'offline' ? 'degraded' : 'ok',
      message: `${this.currentState}: ${this.scheduler.depth} pending, ${this.scheduler.active} running`,
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

/**
 * Creates a worker (not started). `config` may be a full WorkerConfig or partial settings that are
 * completed from the environment and defaults.
 */
export function createWorker(
  config: WorkerConfigInput | WorkerConfig = {},
  options: CreateWorkerOptions = {},
): LocalWorker {
  const full = isFullConfig(config) ? config : resolveConfig(config);
  return new LocalWorker(full, options);
}

function isFullConfig(c: WorkerConfigInput | WorkerConfig): c is WorkerConfig {
  return (
    typeof c.workerId === 'string' &&
    typeof c.stateDir === 'string' &&
    c.metrics !== undefined &&
    'addr' in c.metrics &&
    c.retry !== undefined &&
    'baseDelayMs' in c.retry &&
    'maxDelayMs' in c.retry &&
    c.api !== undefined &&
    'bodyLimitBytes' in c.api
  );
}

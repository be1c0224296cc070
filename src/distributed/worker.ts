// The distributed worker: the same `Worker` interface as the local one, with the state in Redis
// (RedisJobStore) and the queue on BullMQ (one queue per pool). Role `api` submits, reads and
// cancels; role `worker` pulls jobs and runs them through the shared Executor/runAttempt; `all`
// does both. Status and progress events cross processes over one pub/sub channel, cancels over
// another (plus a flag key, swept while jobs run, so a missed message cannot lose a cancel).
import { EventEmitter } from 'node:events';
import { DelayedError, Queue, Worker as BullWorker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { appliancePoolOptions, type WorkerConfig } from '../config.js';
import { configureSharedAppliancePool } from '../../lib/appliance/index.js';
import { defaultRegistry } from '../handlers/index.js';
import { handlerAvailability, type HandlerRegistry } from '../handlers/registry.js';
import { silentLogger, type Logger } from '../logger.js';
import { WorkerError } from '../protocol/errors.js';
import { canonicalJson } from '../protocol/parse.js';
import type {
  JobEnvelope,
  JobStatus,
  ProgressEvent,
  ResultDocument,
  WorkerRegistration,
} from '../protocol/schema.js';
import { isTerminal } from '../protocol/schema.js';
import type { JobRecord, JobStore } from '../store/types.js';
import { shutdownReason } from '../worker/attempt.js';
import { buildRegistration, CapabilityProbe, type FeatureProbe } from '../worker/capabilities.js';
import { Executor, type Emit } from '../worker/executor.js';
import { intakeEnvelope, validatePayload } from '../worker/intake.js';
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
  WorkerState,
} from '../worker/types.js';
import { toStatusDocument } from '../worker/worker.js';
import { Membership } from './members.js';
import { placementProblem, waitingReason } from './placement.js';
import { RunStore } from './run-store.js';
import { RedisJobStore, redisClient } from './store.js';
import { bullJobId, bullPriority, queueName, type RedisTuning } from './tuning.js';

export interface CreateRedisWorkerOptions {
  registry?: HandlerRegistry;
  logger?: Logger;
  featureProbes?: FeatureProbe[];
  healthChecks?: Record<string, () => Promise<HealthCheck>>;
  /** Overrides config.redis. */
  tuning?: Partial<RedisTuning>;
}

interface QueueData {
  job_id: string;
}

/** A job running in this process: its fenced executor and the attempt it runs. */
interface LocalRun {
  executor: Executor;
  attempt: number;
}

/** What crosses processes on the events channel. */
interface Relayed {
  origin: string;
  events: (
    { event: 'status'; data: WorkerEvents['status'][0] } | { event: 'progress'; data: ProgressEvent }
  )[];
}

export class RedisWorker extends EventEmitter<WorkerEvents> implements Worker {
  readonly config: Readonly<WorkerConfig>;
  readonly tuning: RedisTuning;
  private readonly store: RedisJobStore;
  private readonly sub: Redis;
  private readonly members: Membership;
  private readonly registry: HandlerRegistry;
  private readonly logger: Logger;
  private readonly probe: CapabilityProbe;
  private readonly healthChecks: Record<string, () => Promise<HealthCheck>>;
  /** Cancels of pending jobs and status events of API-side decisions (no run fence needed). */
  private readonly control: Executor;
  private readonly queues = new Map<string, Queue<QueueData>>();
  /** Jobs this process is running, each with its own fenced executor. */
  private readonly runs = new Map<string, LocalRun>();
  private bull: BullWorker<QueueData> | undefined;
  private bullConnection: Redis | undefined;
  private currentState: WorkerState = 'offline';
  private startedAt = 0;
  private depth = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly outbox: Relayed['events'] = [];
  private registration: { at: number; doc: WorkerRegistration } | undefined;
  private readonly poolCache = new Map<string, { at: number; live: WorkerRegistration[] }>();
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(config: WorkerConfig, options: CreateRedisWorkerOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.config = Object.freeze({ ...config });
    this.tuning = { ...config.redis, ...options.tuning };
    this.logger = options.logger ?? silentLogger();
    this.registry = options.registry ?? defaultRegistry;
    configureSharedAppliancePool(appliancePoolOptions(this.config));
    this.probe = new CapabilityProbe(options.featureProbes);
    this.healthChecks = options.healthChecks ?? {};
    this.store = new RedisJobStore({
      redis: redisClient(config.redisUrl, `guestkit-store-${config.workerId}`, true),
      prefix: this.tuning.prefix,
      eventsPerJob: config.eventsPerJob,
    });
    this.sub = redisClient(config.redisUrl, `guestkit-sub-${config.workerId}`);
    this.members = new Membership(this.store.redis, this.tuning.prefix);
    for (const c of [this.store.redis, this.sub]) c.on('error', (err) => this.connectionError(err));
    this.control = this.executorFor(this.store);
  }

  get id(): string {
    return this.config.workerId;
  }

  get state(): WorkerState {
    return this.currentState;
  }

  private get runsJobs(): boolean {
    return this.config.role !== 'api';
  }

  private connectionError(err: Error): void {
    this.logger.warn({ err: err.message }, 'redis connection error (reconnecting)');
    this.emit('transport:error', { transport: 'redis', error: err.message });
  }

  private setState(state: WorkerState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  /** Emits locally, and publishes status/progress so API nodes and watchers elsewhere see them. */
  private readonly emitAll: Emit = (event, ...args) => {
    (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    if (event === 'status' || event === 'progress') {
      this.outbox.push({ event, data: args[0] } as Relayed['events'][number]);
      // One PUBLISH per event-loop turn carries every event of that turn (fewer Redis commands).
      if (this.outbox.length === 1) setImmediate(() => this.flushOutbox());
    }
  };

  private flushOutbox(): void {
    const events = this.outbox.splice(0);
    if (events.length === 0) return;
    const msg: Relayed = { origin: this.id, events };
    this.store.redis.publish(`${this.tuning.prefix}events`, JSON.stringify(msg)).catch(() => undefined);
  }

  private executorFor(store: JobStore): Executor {
    return new Executor({
      store,
      registry: this.registry,
      config: this.config,
      logger: this.logger,
      emit: this.emitAll,
    });
  }

  private queue(pool: string): Queue<QueueData> {
    let q = this.queues.get(pool);
    if (!q) {
      q = new Queue<QueueData>(queueName(pool), {
        connection: this.store.redis,
        prefix: `${this.tuning.prefix}bull`,
      });
      q.on('error', (err) => this.connectionError(err));
      this.queues.set(pool, q);
    }
    return q;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    queueName(this.config.pool); // refuses a pool name Redis cannot carry, before connecting
    await this.store.open();
    await this.probe.get();
    // A worker that serves no API has no watchers: it only needs cancels, not everyone's events.
    const watches = this.config.role !== 'worker' || this.config.api.enabled;
    await this.sub.subscribe(
      `${this.tuning.prefix}cancel`,
      `${this.tuning.prefix}takeover`,
      ...(watches ? [`${this.tuning.prefix}events`] : []),
    );
    this.sub.on('message', (channel, message) => this.onMessage(channel, message));
    this.startedAt = Date.now();
    this.setState('ready');
    if (this.runsJobs) {
      const recovered = await this.store.requeueInterrupted(this.id);
      if (recovered.length)
        this.logger.warn({ jobs: recovered.length }, 're-queued jobs this worker id left');
      await this.heartbeat();
      await this.requeueOrphans();
      this.bullConnection = redisClient(this.config.redisUrl, `guestkit-bull-${this.id}`);
      this.bullConnection.on('error', () => undefined); // reported by the BullMQ worker's own error event
      this.bull = new BullWorker<QueueData>(
        queueName(this.config.pool),
        (job, token) => this.process(job, token),
        {
          connection: this.bullConnection,
          prefix: `${this.tuning.prefix}bull`,
          concurrency: this.config.maxConcurrent,
          lockDuration: this.tuning.stallMs,
          stalledInterval: this.tuning.stallMs,
          // A stall is an interruption (the worker died or lost Redis), never the job's fault.
          maxStalledCount: 1000,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 0 },
        },
      );
      this.bull.on('error', (err) => this.connectionError(err));
      this.every(this.tuning.heartbeatMs, () => this.heartbeat());
      this.every(Math.max(500, Math.min(2000, this.tuning.heartbeatMs)), () => this.sweepCancels());
    }
    this.every(this.tuning.queueStatsMs, () => this.refreshDepth());
    await this.refreshDepth();
    if (this.config.retentionSeconds !== null) {
      const seconds = this.config.retentionSeconds;
      const sweep = async () => {
        const n = await this.store.purgeTerminal(Date.now() - seconds * 1000);
        if (n > 0) this.logger.info({ purged: n }, 'purged old terminal jobs');
      };
      await sweep().catch(() => undefined);
      this.every(Math.min(3600, Math.max(1, seconds / 10)) * 1000, sweep);
    }
    this.logger.info(
      { worker_id: this.id, role: this.config.role, pool: this.config.pool, store: 'redis', ...this.tuning },
      'worker started',
    );
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => {
      fn().catch((err: unknown) => this.logger.debug({ err }, 'periodic redis task failed'));
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private onMessage(channel: string, message: string): void {
    if (channel === `${this.tuning.prefix}cancel`) {
      this.runs.get(message)?.executor.cancelRunning(message);
      return;
    }
    if (channel === `${this.tuning.prefix}takeover`) {
      const [attempt, jobId] = [
        message.slice(0, message.indexOf('|')),
        message.slice(message.indexOf('|') + 1),
      ];
      this.abortStale(jobId, Number(attempt));
      return;
    }
    let m: Relayed;
    try {
      m = JSON.parse(message) as Relayed;
    } catch {
      return;
    }
    if (m.origin === this.id) return; // already emitted locally
    for (const e of m.events) {
      if (e.event === 'status') this.emit('status', e.data);
      else this.emit('progress', e.data);
    }
  }

  private async heartbeat(): Promise<void> {
    const ttl = this.tuning.heartbeatMs * 3;
    await this.members.publish(await this.capabilities(), ttl);
  }

  /** Another worker took `jobId` over from `attempt`: a run of that attempt here must stop its work. */
  private abortStale(jobId: string, attempt: number): void {
    const run = this.runs.get(jobId);
    if (!run || run.attempt > attempt) return;
    this.logger.warn({ job_id: jobId, attempt }, 'stopping a run another worker has taken over');
    // Interrupted: its fenced writes fail, so it leaves no status or result behind.
    run.executor.abortAll(shutdownReason());
  }

  /** A cancel whose pub/sub message was missed (reconnecting, or it raced the start) still lands. */
  private async sweepCancels(): Promise<void> {
    const ids = [...this.runs.keys()];
    if (ids.length === 0) return;
    const flags = await this.store.redis.mget(ids.map((id) => `${this.tuning.prefix}cancel:${id}`));
    ids.forEach((id, i) => {
      if (flags[i] !== null) this.runs.get(id)?.executor.cancelRunning(id);
    });
  }

  private async refreshDepth(): Promise<void> {
    const c = await this.queue(this.config.pool).getJobCounts('wait', 'prioritized', 'delayed');
    this.depth = Object.values(c).reduce((a, b) => a + b, 0);
    this.emitQueue();
  }

  private emitQueue(): void {
    this.emit('queue', { depth: this.depth, active: this.runs.size });
    if (this.currentState === 'ready' || this.currentState === 'busy') {
      this.setState(this.runs.size >= this.config.maxConcurrent ? 'busy' : 'ready');
    }
  }

  // ---- running jobs (role worker/all) ----

  /** This worker's registration, rebuilt at most once per heartbeat (it probes the disk). */
  private async ownRegistration(): Promise<WorkerRegistration> {
    if (!this.registration || Date.now() - this.registration.at > this.tuning.heartbeatMs) {
      this.registration = { at: Date.now(), doc: await this.capabilities() };
    }
    return this.registration.doc;
  }

  /** Live workers of a pool, re-read at most once a second (submissions check placement). */
  private async livePool(pool: string): Promise<WorkerRegistration[]> {
    const hit = this.poolCache.get(pool);
    if (hit && Date.now() - hit.at < 1000) return hit.live;
    const live = await this.members.live(pool);
    this.poolCache.set(pool, { at: Date.now(), live });
    return live;
  }

  /** Why this worker cannot run `job` (constraints, routing, missing tools), or null. */
  private async cannotRun(job: JobRecord): Promise<string | null> {
    const handler = this.registry.get(job.operation);
    if (!handler) return `no handler for ${job.operation}`;
    const problem = placementProblem(
      job.envelope,
      await this.ownRegistration(),
      this.config,
      handler.requires ?? [],
    );
    if (problem) return problem;
    const availability = await handlerAvailability(handler);
    return availability.available ? null : (availability.reason ?? 'its tools are missing');
  }

  /** Puts the BullMQ job back (delayed until `at`) for any worker; the processor must return by throwing. */
  private async release(job: BullJob<QueueData>, token: string | undefined, at: number): Promise<never> {
    await job.moveToDelayed(Math.max(at, Date.now()), token);
    throw new DelayedError();
  }

  private async process(bullJob: BullJob<QueueData>, token: string | undefined): Promise<void> {
    const jobId = bullJob.data.job_id;
    this.emit('transport:fetch', { transport: 'redis' });
    const rec = await this.store.get(jobId);
    if (!rec || isTerminal(rec.status)) return; // cancelled while queued, or a late duplicate delivery
    if (this.currentState === 'draining') return this.release(bullJob, token, Date.now());
    const problem = await this.cannotRun(rec);
    if (problem) {
      const message = `Released by ${this.id}: ${problem}; waiting for a worker that can run it`;
      this.logger.info({ job_id: jobId, problem }, 'released a job this worker cannot run');
      await this.store.setWaitingReason(jobId, { phase: 'scheduling', percent: 0, message });
      return this.release(bullJob, token, Date.now() + this.tuning.releaseDelayMs);
    }
    let current = rec;
    const runStore = new RunStore(this.store, this.id, rec.attempt);
    runStore.onEventError = (err) =>
      this.logger.warn({ err, job_id: jobId }, 'could not store a progress event');
    const executor = this.executorFor(runStore);
    if (rec.status === 'assigned' || rec.status === 'running') {
      // Its worker stopped holding the lock (killed, or cut off from Redis): this is a new attempt.
      const next = await executor.move(rec, [rec.status], 'pending', {
        attempt: rec.attempt + 1,
        worker_id: null,
        not_before: null,
      });
      if (!next) return;
      current = next;
      // If the old run is still alive somewhere (it lost Redis, not its life), stop its work.
      this.abortStale(jobId, rec.attempt);
      await this.store.redis
        .publish(`${this.tuning.prefix}takeover`, `${rec.attempt}|${jobId}`)
        .catch(() => undefined);
      this.logger.warn(
        { job_id: jobId, previous_worker: rec.worker_id, attempt: next.attempt },
        'took over a job whose worker stopped renewing its lock',
      );
    } else if (rec.not_before !== null && rec.not_before > Date.now()) {
      return this.release(bullJob, token, rec.not_before);
    }
    runStore.prime(current);
    const run: LocalRun = { executor, attempt: current.attempt };
    this.runs.set(jobId, run);
    this.emitQueue();
    let outcome;
    try {
      outcome = await executor.execute(jobId);
    } finally {
      if (this.runs.get(jobId) === run) this.runs.delete(jobId);
      this.emitQueue();
    }
    if (outcome.kind === 'requeued') {
      const at = outcome.reason === 'retry' ? (outcome.job.not_before ?? Date.now()) : Date.now();
      return this.release(bullJob, token, at);
    }
    if (outcome.kind === 'skipped') {
      // Skipped because Redis failed mid-run (not because someone else moved it): keep the queue
      // entry, so the job is not stranded without one; the next delivery takes it over.
      const after = await this.store.get(jobId);
      const ours = after?.worker_id === this.id && after.attempt === run.attempt;
      if (after && !isTerminal(after.status) && (after.status === 'pending' || ours)) {
        return this.release(bullJob, token, Date.now() + this.tuning.releaseDelayMs);
      }
    }
  }

  /**
   * Pending jobs of this pool get their queue entry (again): an API node that died between storing
   * a job and queueing it leaves no orphan. Adding an existing BullMQ job id is a no-op.
   */
  private async requeueOrphans(): Promise<void> {
    const queue = this.queue(this.config.pool);
    for (const [jobId, priority] of await this.store.pendingInPool(this.config.pool)) {
      await queue.add(
        'job',
        { job_id: jobId },
        {
          jobId: bullJobId(jobId),
          priority: bullPriority(priority),
          removeOnComplete: true,
          removeOnFail: true,
        },
      );
    }
  }

  // ---- lifecycle ----

  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.doStop(options.drainTimeoutMs ?? this.config.drainTimeoutMs);
    return this.stopping;
  }

  private async doStop(drainTimeoutMs: number): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    this.setState('draining');
    for (const t of this.timers) clearInterval(t);
    if (this.bull) {
      await this.heartbeat().catch(() => undefined);
      const closing = this.bull.close();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.logger.warn({ active: this.runs.size }, 'drain timeout: stopping running jobs (they re-queue)');
        for (const r of this.runs.values()) r.executor.abortAll(shutdownReason());
        await closing;
      }
      await this.members.remove(this.id).catch(() => undefined);
    }
    this.flushOutbox();
    for (const q of this.queues.values()) await q.close().catch(() => undefined);
    await this.sub.quit().catch(() => this.sub.disconnect());
    await this.bullConnection?.quit().catch(() => this.bullConnection?.disconnect());
    await this.store.redis.quit().catch(() => this.store.redis.disconnect());
    this.setState('offline');
    this.logger.info('worker stopped');
  }

  private requireRunning(): void {
    if (this.currentState === 'draining' || this.stopping) {
      throw new WorkerError(
        'WORKER_UNAVAILABLE',
        'This node is draining and accepts no new jobs; submit to another',
      );
    }
    if (this.currentState === 'offline') {
      throw new WorkerError('WORKER_UNAVAILABLE', 'The worker is not started (call start() first)');
    }
  }

  // ---- the Worker interface ----

  async submit(input: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
    this.requireRunning();
    const intake = intakeEnvelope(input, this.registry);
    const { envelope, execution, warnings, handler } = intake;
    validatePayload(intake);
    const pool = envelope.routing?.worker_pool || this.config.pool;
    const queue = this.queue(pool);
    for (const w of warnings) this.logger.warn({ job_id: envelope.job_id }, w);

    const now = Date.now();
    const outcome = await this.store.create(
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
      pool,
    );
    const job = outcome.job;
    switch (outcome.kind) {
      case 'created': {
        // The record exists first, so a worker that pulls the job always finds it.
        await queue.add(
          'job',
          { job_id: job.job_id },
          {
            jobId: bullJobId(job.job_id),
            priority: bullPriority(execution.priority),
            removeOnComplete: true,
            removeOnFail: true,
          },
        );
        await this.noteWaitingReason(envelope, pool, handler.requires ?? []);
        this.emitAll('status', {
          job_id: job.job_id,
          operation: job.operation,
          from: null,
          to: 'pending',
          attempt: job.attempt,
          timestamp: new Date(now).toISOString(),
          seconds_in_previous: null,
          seconds_since_submit: 0,
        });
        this.control.noteQueued(job.job_id, now);
        return { job_id: job.job_id, status: 'pending', created: true };
      }
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

  /** When no live worker of the pool can run the job, says so in its status (it stays pending). */
  private async noteWaitingReason(envelope: JobEnvelope, pool: string, requires: readonly string[]) {
    const live = await this.livePool(pool);
    const problems: { worker_id: string; problem: string }[] = [];
    for (const reg of live) {
      const problem = placementProblem(envelope, reg, this.config, requires);
      if (problem === null) return;
      problems.push({ worker_id: reg.worker_id, problem });
    }
    const message = waitingReason(pool, problems);
    await this.store.setWaitingReason(envelope.job_id, { phase: 'scheduling', percent: 0, message });
  }

  async get(jobId: string): Promise<JobStatusDocument | undefined> {
    const job = await this.store.get(jobId);
    return job ? toStatusDocument(job) : undefined;
  }

  result(jobId: string): Promise<ResultDocument | undefined> {
    return this.store.result(jobId);
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
    const page = await this.store.list(query);
    return { jobs: page.jobs.map(toStatusDocument), total: page.total, next_cursor: page.next_cursor };
  }

  events(jobId: string, afterSequence?: number): Promise<ProgressEvent[]> {
    return this.store.events(jobId, afterSequence);
  }

  /** The audit trail of a job (every status transition, with the attempt). */
  history(jobId: string) {
    return this.store.history(jobId);
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
      if (await this.control.finishWithout(job, ['pending', 'assigned'], 'cancelled', error)) {
        const pool = job.envelope.routing?.worker_pool || this.config.pool;
        await this.queue(pool)
          .remove(bullJobId(jobId))
          .catch(() => undefined); // locked by a worker: it finds the job terminal and drops it
        return { outcome: 'cancelled', job_id: jobId, status: 'cancelled' };
      }
      return this.cancel(jobId); // it moved meanwhile: decide again
    }
    if (!job.execution.cancellable) return { outcome: 'not_cancellable', job_id: jobId, status: job.status };
    // Running somewhere: the flag survives a missed message; the message stops it at once.
    await this.store.redis.set(`${this.tuning.prefix}cancel:${jobId}`, '1', 'EX', 86_400);
    await this.store.redis.publish(`${this.tuning.prefix}cancel`, jobId);
    this.runs.get(jobId)?.executor.cancelRunning(jobId);
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
        if (e.job_id === jobId && isTerminal(e.to)) check().catch(() => undefined);
      };
      const onAbort = () => finish(() => reject(options.signal?.reason));
      // Events from other processes can be missed across a reconnect: poll as well.
      const poll = setInterval(() => check().catch(() => undefined), 1000);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.on('status', onStatus);
      check().catch((err: unknown) => finish(() => reject(err)));
    });
  }

  async capabilities(): Promise<WorkerRegistration> {
    return buildRegistration({
      config: this.config,
      operations: await this.registry.availableOperations(),
      probed: await this.probe.get(),
      registeredAt: new Date(this.startedAt || Date.now()).toISOString(),
      state: this.currentState,
      currentJobs: this.runs.size,
    });
  }

  /** Every live worker's registration (heartbeat not expired), all pools. */
  workers(): Promise<WorkerRegistration[]> {
    return this.members.live();
  }

  counts(): Promise<Record<JobStatus, number>> {
    return this.store.counts();
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
      checks.store = { status: 'error', message: `redis: ${(err as Error).message}` };
    }
    checks.queue = {
      status: this.currentState === 'draining' || this.currentState === 'offline' ? 'degraded' : 'ok',
      message: `${this.config.role} in pool ${this.config.pool}: ${this.depth} queued, ${this.runs.size} running here`,
    };
    await Promise.all(
      Object.entries(this.healthChecks).map(async ([name, fn]) => {
        checks[name] = await fn().catch((err: unknown) => ({
          status: 'error' as const,
          message: String(err),
        }));
      }),
    );
    checks.libguestfs ??= this.runsJobs
      ? await import('../../lib/native.js').then(({ libguestfsAvailability }) => {
          const binding = libguestfsAvailability();
          return binding.available
            ? { status: 'ok' as const }
            : { status: 'error' as const, message: binding.reason };
        })
      : { status: 'ok', message: 'not used on an API node (checked where jobs run)' };
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

export function createRedisWorker(config: WorkerConfig, options: CreateRedisWorkerOptions = {}): RedisWorker {
  return new RedisWorker(config, options);
}

// The distributed worker: the same `Worker` interface as the local one, with the state in Redis
// (RedisJobStore) and the queue on BullMQ (one queue per pool). Role `api` submits, reads and
// cancels; role `worker` pulls jobs and runs them through the shared Executor/runAttempt; `all`
// does both. Status and progress events cross processes over one pub/sub channel, cancels over
// another (plus a flag key, swept while jobs run, so a missed message cannot lose a cancel).
import { DelayedError, Queue, Worker as BullWorker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { applianceCheck } from '../worker/appliance-health.js';
import type { WorkerConfig } from '../config.js';
import { defaultRegistry } from '../handlers/index.js';
import { handlerAvailability, type HandlerRegistry } from '../handlers/registry.js';
import { silentLogger, type Logger } from '../logger.js';
import type { JobErrorInfo } from '../protocol/errors.js';
import type { JobEnvelope, ProgressEvent, WorkerRegistration } from '../protocol/schema.js';
import { isTerminal } from '../protocol/schema.js';
import type { CreateOutcome, JobRecord, JobStore, NewJob } from '../store/types.js';
import { shutdownReason } from '../worker/attempt.js';
import { buildRegistration, CapabilityProbe, type FeatureProbe } from '../worker/capabilities.js';
import { Executor, type Emit } from '../worker/executor.js';
import { timedOut, WorkerCore } from '../worker/core.js';
import { libguestfsCheck } from '../worker/worker.js';
import type { Intake } from '../worker/intake.js';
import type { HealthCheck, Worker, WorkerEvents } from '../worker/types.js';
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

/** What crosses processes on the events channel. */
interface Relayed {
  origin: string;
  events: (
    { event: 'status'; data: WorkerEvents['status'][0] } | { event: 'progress'; data: ProgressEvent }
  )[];
}

export class RedisWorker extends WorkerCore<RedisJobStore> implements Worker {
  readonly tuning: RedisTuning;
  protected readonly store: RedisJobStore;
  private readonly sub: Redis;
  private readonly members: Membership;
  private readonly probe: CapabilityProbe;
  /** Cancels of pending jobs and status events of API-side decisions (no run fence needed). */
  private readonly control: Executor;
  private readonly queues = new Map<string, Queue<QueueData>>();
  /** Jobs this process is running, each with its own fenced executor. */
  private readonly runs = new Map<string, LocalRun>();
  private bull: BullWorker<QueueData> | undefined;
  private bullConnection: Redis | undefined;
  private depth = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly outbox: Relayed['events'] = [];
  private registration: { at: number; doc: WorkerRegistration } | undefined;
  private readonly poolCache = new Map<string, { at: number; live: WorkerRegistration[] }>();

  constructor(config: WorkerConfig, options: CreateRedisWorkerOptions = {}) {
    const runsJobs = config.role !== 'api';
    super(config, {
      registry: options.registry ?? defaultRegistry,
      logger: options.logger ?? silentLogger(),
      healthChecks: {
        libguestfs: runsJobs
          ? libguestfsCheck
          : () =>
              Promise.resolve({ status: 'ok', message: 'not used on an API node (checked where jobs run)' }),
        ...(runsJobs ? { appliance: () => applianceCheck(config.guestfs) } : {}),
        ...options.healthChecks,
      },
      // Events from other processes can be missed across a reconnect: waitFor polls as well.
      waitPollMs: 1000,
    });
    this.tuning = { ...config.redis, ...options.tuning };
    this.probe = new CapabilityProbe(options.featureProbes);
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

  private get runsJobs(): boolean {
    return this.config.role !== 'api';
  }

  private connectionError(err: Error): void {
    this.logger.warn({ err: err.message }, 'redis connection error (reconnecting)');
    this.emit('transport:error', { transport: 'redis', error: err.message });
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

  private executorFor(store: JobStore, emit: Emit = this.emitAll): Executor {
    return new Executor({
      store,
      registry: this.registry,
      config: this.config,
      logger: this.logger,
      emit,
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

  protected async doStart(): Promise<void> {
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
    this.startRetention();
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
    const queued = bullJob.data.record;
    if (
      queued?.job_id === jobId &&
      queued.status === 'pending' &&
      queued.not_before === null &&
      this.currentState !== 'draining' &&
      (await this.cannotRun(queued)) === null
    ) {
      // As submitted: the start (pending at this attempt → running) is the first write. Refused
      // (cancelled, retried, taken over, deleted meanwhile): decide again from the stored job.
      const fresh = this.newRun(jobId, queued.attempt);
      const done = await this.runJob(bullJob, token, queued, fresh, true);
      if (!fresh.runStore.startRefused) return done;
    }
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
    return this.runJob(bullJob, token, current, run);
  }

  /** A fenced run store and an executor over it for one run of `jobId` at `attempt`. */
  private newRun(jobId: string, attempt: number): { runStore: RunStore; executor: Executor } {
    const runStore = new RunStore(this.store, this.id, attempt);
    runStore.onEventError = (err) =>
      this.logger.warn({ err, job_id: jobId }, 'could not store a progress event');
    // A status is announced once it is written (the run store may hold pending → assigned back).
    const executor = this.executorFor(runStore, (event, ...args) => {
      if (event === 'status') runStore.whenWritten(() => this.emitAll(event, ...args));
      else this.emitAll(event, ...args);
    });
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
    this.emitQueue();
    let outcome;
    try {
      outcome = await executor.execute(jobId);
    } finally {
      if (this.runs.get(jobId) === run) this.runs.delete(jobId);
      this.emitQueue();
    }
    if (unread && runStore.startRefused) return; // the caller decides from the stored job
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

  protected async doStop(drainTimeoutMs: number): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.bull) {
      await this.heartbeat().catch(() => undefined);
      const closing = this.bull.close();
      if (await timedOut(closing, drainTimeoutMs)) {
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
  }

  // ---- what the core asks of this queue ----

  protected admit(): Promise<void> {
    return Promise.resolve(); // placement is checked per worker when it pulls the job
  }

  private poolOf(envelope: JobEnvelope): string {
    return envelope.routing?.worker_pool || this.config.pool;
  }

  protected createRecord(job: NewJob, intake: Intake): Promise<CreateOutcome> {
    this.queue(this.poolOf(intake.envelope)); // refuses a pool name Redis cannot carry, before storing
    return this.store.create(job, this.poolOf(intake.envelope));
  }

  protected async enqueueCreated(job: JobRecord, intake: Intake, now: number): Promise<void> {
    const pool = this.poolOf(intake.envelope);
    // The record exists first, so a worker that pulls the job always finds it.
    await this.queue(pool).add(
      'job',
      { job_id: job.job_id, record: job },
      {
        jobId: bullJobId(job.job_id),
        priority: bullPriority(intake.execution.priority),
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
    await this.noteWaitingReason(intake.envelope, pool, intake.handler.requires ?? []);
    this.emitAll('status', this.pendingEvent(job, now));
    this.control.noteQueued(job.job_id, now);
  }

  protected async cancelQueued(job: JobRecord, error: JobErrorInfo): Promise<boolean> {
    if (!(await this.control.finishWithout(job, ['pending', 'assigned'], 'cancelled', error))) return false;
    await this.queue(this.poolOf(job.envelope))
      .remove(bullJobId(job.job_id))
      .catch(() => undefined); // locked by a worker: it finds the job terminal and drops it
    return true;
  }

  protected async stopRunning(job: JobRecord): Promise<boolean> {
    // Running somewhere: the flag survives a missed message; the message stops it at once.
    await this.store.redis.set(`${this.tuning.prefix}cancel:${job.job_id}`, '1', 'EX', 86_400);
    await this.store.redis.publish(`${this.tuning.prefix}cancel`, job.job_id);
    this.runs.get(job.job_id)?.executor.cancelRunning(job.job_id);
    return true;
  }

  protected queueSummary(): string {
    return `${this.config.role} in pool ${this.config.pool}: ${this.depth} queued, ${this.runs.size} running here`;
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

  /** The audit trail of a job (every status transition, with the attempt). */
  history(jobId: string) {
    return this.store.history(jobId);
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
}

export function createRedisWorker(config: WorkerConfig, options: CreateRedisWorkerOptions = {}): RedisWorker {
  return new RedisWorker(config, options);
}

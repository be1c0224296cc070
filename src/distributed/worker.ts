// The distributed worker: the same `Worker` interface as the local one, with the state in Redis
// (RedisJobStore) and the queue on BullMQ (one queue per pool). Role `api` submits, reads and
// cancels; role `worker` pulls jobs and runs them (processor.ts) through the shared
// Executor/runAttempt; `all` does both. Status and progress events cross processes over one
// pub/sub channel, cancels over another (plus a flag key, swept while jobs run, so a missed
// message cannot lose a cancel).
import { Queue, Worker as BullWorker } from 'bullmq';
import type { Redis } from 'ioredis';
import { applianceCheck } from '../worker/appliance-health.js';
import type { WorkerConfig } from '../config.js';
import { defaultRegistry } from '../handlers/index.js';
import { handlerAvailability, type HandlerRegistry } from '../handlers/registry.js';
import type { AnyHandler } from '../handlers/types.js';
import { silentLogger, type Logger } from '../logger.js';
import type { JobErrorInfo } from '../protocol/errors.js';
import type { JobEnvelope, ProgressEvent, WorkerRegistration } from '../protocol/schema.js';
import type { CreateOutcome, JobRecord, JobStore, NewJob } from '../store/types.js';
import { buildRegistration, CapabilityProbe, type FeatureProbe } from '../worker/capabilities.js';
import { Executor, type Emit } from '../worker/executor.js';
import { timedOut, WorkerCore } from '../worker/core.js';
import { libguestfsCheck } from '../worker/worker.js';
import type { Intake } from '../worker/intake.js';
import type { HealthCheck, Worker, WorkerEvents } from '../worker/types.js';
import { Membership } from './members.js';
import { placementProblem, waitingReason } from './placement.js';
import { JobProcessor, type QueueData } from './processor.js';
import { redisClient } from './connection.js';
import { RedisJobStore } from './store.js';
import { bullJobId, bullPriority, queueName, type RedisTuning } from './tuning.js';

export interface CreateRedisWorkerOptions {
  registry?: HandlerRegistry;
  logger?: Logger;
  featureProbes?: FeatureProbe[];
  healthChecks?: Record<string, () => Promise<HealthCheck>>;
  /** Overrides config.redis. */
  tuning?: Partial<RedisTuning>;
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
  /** Runs the jobs BullMQ delivers (role worker/all). */
  private readonly processor: JobProcessor;
  private bull: BullWorker<QueueData> | undefined;
  private bullConnection: Redis | undefined;
  private depth = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly outbox: Relayed['events'] = [];
  private registration: { at: number; doc: WorkerRegistration } | undefined;
  private readonly poolCache = new Map<string, { at: number; live: WorkerRegistration[] }>();
  /** Operations some worker of a live-pool reading (the array, kept for a second) can run. */
  private readonly plainFits = new WeakMap<WorkerRegistration[], Set<string>>();
  private readonly plainVerdicts = new Map<
    string,
    { reg: WorkerRegistration; handler: AnyHandler; problem: string | null }
  >();

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
      redis: redisClient(config.redisUrl, `guestkit-store-${config.workerId}`),
      prefix: this.tuning.prefix,
      eventsPerJob: config.eventsPerJob,
    });
    this.sub = redisClient(config.redisUrl, `guestkit-sub-${config.workerId}`);
    this.members = new Membership(this.store.redis, this.tuning.prefix);
    for (const c of [this.store.redis, this.sub]) c.on('error', (err) => this.connectionError(err));
    this.control = this.executorFor(this.store);
    this.processor = new JobProcessor({
      id: this.id,
      store: this.store,
      tuning: this.tuning,
      logger: this.logger,
      draining: () => this.currentState === 'draining',
      // Only for pure handlers (a run abandoned to a cancel did nothing) of cancellable jobs (a
      // job held back looks pending, and a pending job can always be cancelled).
      startHoldMs: (job) =>
        job.execution.cancellable && this.registry.get(job.operation)?.pure === true
          ? this.tuning.startHoldMs
          : 0,
      cannotRun: (job) => this.cannotRun(job),
      executorFor: (store, emit) => this.executorFor(store, emit),
      emitAll: this.emitAll,
      fetched: () => this.emit('transport:fetch', { transport: 'redis' }),
      runsChanged: () => this.emitQueue(),
    });
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
        (job, token) => this.processor.process(job, token),
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
      this.processor.cancel(message);
      return;
    }
    if (channel === `${this.tuning.prefix}takeover`) {
      const [attempt, jobId] = [
        message.slice(0, message.indexOf('|')),
        message.slice(message.indexOf('|') + 1),
      ];
      this.processor.abortStale(jobId, Number(attempt));
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

  /** A cancel whose pub/sub message was missed (reconnecting, or it raced the start) still lands. */
  private async sweepCancels(): Promise<void> {
    const ids = this.processor.runningIds();
    if (ids.length === 0) return;
    const flags = await this.store.redis.mget(ids.map((id) => `${this.tuning.prefix}cancel:${id}`));
    ids.forEach((id, i) => {
      if (flags[i] !== null) this.processor.cancel(id);
    });
  }

  private async refreshDepth(): Promise<void> {
    const c = await this.queue(this.config.pool).getJobCounts('wait', 'prioritized', 'delayed');
    this.depth = Object.values(c).reduce((a, b) => a + b, 0);
    this.emitQueue();
  }

  private emitQueue(): void {
    this.emit('queue', { depth: this.depth, active: this.processor.active });
    if (this.currentState === 'ready' || this.currentState === 'busy') {
      this.setState(this.processor.active >= this.config.maxConcurrent ? 'busy' : 'ready');
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
    const reg = await this.ownRegistration();
    // Without constraints or routing the verdict depends only on the handler and this worker's
    // registration: computed once per operation and registration, not per job.
    const plain = job.envelope.constraints === undefined && job.envelope.routing === undefined;
    const known = plain ? this.plainVerdicts.get(job.operation) : undefined;
    let problem: string | null;
    if (known && known.reg === reg && known.handler === handler) problem = known.problem;
    else {
      problem = placementProblem(job.envelope, reg, this.config, handler.requires ?? []);
      if (plain) this.plainVerdicts.set(job.operation, { reg, handler, problem });
    }
    if (problem) return problem;
    const availability = await handlerAvailability(handler);
    return availability.available ? null : (availability.reason ?? 'its tools are missing');
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
        this.logger.warn(
          { active: this.processor.active },
          'drain timeout: stopping running jobs (they re-queue)',
        );
        this.processor.abortAll();
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
    // Announced before the queue entry exists: a worker (this process's too) can take the job
    // before add() answers, and its assigned/running events must not precede the pending one
    // (seen in CI: null>pending arrived after assigned>running). The record is pending already.
    this.emitAll('status', this.pendingEvent(job, now));
    this.control.noteQueued(job.job_id, now);
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
  }

  protected async cancelQueued(job: JobRecord, error: JobErrorInfo): Promise<boolean> {
    if (!(await this.control.finishWithout(job, ['pending', 'assigned'], 'cancelled', error))) return false;
    const removed = await this.queue(this.poolOf(job.envelope))
      .remove(bullJobId(job.job_id))
      .catch(() => 0);
    // Locked by a worker: it finds the job terminal and drops it. A run that has begun with its
    // start held back (run-store.ts) is told to stop now, not when its start is refused.
    if (removed !== 1) {
      await this.store.redis.publish(`${this.tuning.prefix}cancel`, job.job_id).catch(() => undefined);
      this.processor.cancel(job.job_id);
    }
    return true;
  }

  protected async stopRunning(job: JobRecord): Promise<boolean> {
    // Running somewhere: the flag survives a missed message; the message stops it at once.
    await this.store.redis.set(`${this.tuning.prefix}cancel:${job.job_id}`, '1', 'EX', 86_400);
    await this.store.redis.publish(`${this.tuning.prefix}cancel`, job.job_id);
    this.processor.cancel(job.job_id);
    return true;
  }

  protected queueSummary(): string {
    return `${this.config.role} in pool ${this.config.pool}: ${this.depth} queued, ${this.processor.active} running here`;
  }

  /** When no live worker of the pool can run the job, says so in its status (it stays pending). */
  private async noteWaitingReason(envelope: JobEnvelope, pool: string, requires: readonly string[]) {
    const live = await this.livePool(pool);
    // Without constraints or routing, whether some live worker fits depends on the operation only.
    const plain = envelope.constraints === undefined && envelope.routing === undefined;
    if (plain && this.plainFits.get(live)?.has(envelope.operation)) return;
    const problems: { worker_id: string; problem: string }[] = [];
    for (const reg of live) {
      const problem = placementProblem(envelope, reg, this.config, requires);
      if (problem === null) {
        if (plain) this.plainFits.set(live, (this.plainFits.get(live) ?? new Set()).add(envelope.operation));
        return;
      }
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
      currentJobs: this.processor.active,
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

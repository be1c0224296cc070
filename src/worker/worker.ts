// The local worker: one process, an embedded store, a priority scheduler and the executor.
// The daemon, the REST API and library users all drive this same object.
import { join } from 'node:path';
import { resolveConfig, type WorkerConfig, type WorkerConfigInput } from '../config.js';
import { defaultRegistry } from '../handlers/index.js';
import { handlerAvailability, type HandlerRegistry } from '../handlers/registry.js';
import { silentLogger, type Logger } from '../logger.js';
import { WorkerError, type JobErrorInfo } from '../protocol/errors.js';
import type { WorkerRegistration } from '../protocol/schema.js';
import { SqliteStore } from '../store/sqlite.js';
import type { CreateOutcome, JobRecord, JobStore, NewJob } from '../store/types.js';
import { applianceCheck } from './appliance-health.js';
import { sharedAppliancePoolStatus } from '../../lib/appliance/index.js';
import { libguestfsAvailability } from '../../lib/native.js';
import { shutdownReason } from './attempt.js';
import { buildRegistration, CapabilityProbe, checkConstraints, type FeatureProbe } from './capabilities.js';
import { Executor } from './executor.js';
import { timedOut, toStatusDocument, WorkerCore } from './core.js';
import type { Intake } from './intake.js';
import { QueueReservations } from './reservations.js';
import { LocalScheduler } from './scheduler.js';
import type { HealthCheck, Worker } from './types.js';

export { toStatusDocument };

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

/** Default libguestfs check: the libguestfs binding loads (it links libguestfs.so.0). */
export async function libguestfsCheck(): Promise<HealthCheck> {
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

export class LocalWorker extends WorkerCore implements Worker {
  protected readonly store: JobStore;
  private readonly probe: CapabilityProbe;
  private readonly executor: Executor;
  private readonly scheduler: LocalScheduler;
  /** Queued jobs' handlers prepare for them (disk jobs' drives join the next appliance launch). */
  private readonly reservations: QueueReservations;
  private snapshot: { revision: number; expires: number; value: Promise<CapabilitySnapshot> } | undefined;

  constructor(config: WorkerConfig, options: CreateWorkerOptions = {}) {
    super(config, {
      registry: options.registry ?? defaultRegistry,
      logger: options.logger ?? silentLogger(),
      healthChecks: {
        libguestfs: libguestfsCheck,
        appliance: () => applianceCheck(config.guestfs),
        ...options.healthChecks,
      },
    });
    this.store =
      options.store ??
      new SqliteStore({
        path: config.store === 'memory' ? ':memory:' : join(config.stateDir, 'worker.db'),
        eventsPerJob: config.eventsPerJob,
      });
    this.probe = new CapabilityProbe(options.featureProbes);
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

  private updateState(): void {
    if (this.currentState !== 'ready' && this.currentState !== 'busy') return;
    this.setState(this.scheduler.active >= this.config.maxConcurrent ? 'busy' : 'ready');
  }

  protected async doStart(): Promise<void> {
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
    this.startRetention();
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

  protected async doStop(drainTimeoutMs: number): Promise<void> {
    this.scheduler.pause();
    this.reservations.releaseAll(); // nothing queued starts here any more
    const active = this.scheduler.active;
    if (active > 0) {
      this.logger.info({ active, drain_timeout_ms: drainTimeoutMs }, 'draining: waiting for running jobs');
      if (await timedOut(this.scheduler.idle(), drainTimeoutMs)) {
        this.logger.warn(
          { active: this.scheduler.active },
          'drain timeout: stopping running jobs (they will re-run)',
        );
        this.executor.abortAll(shutdownReason());
        await this.scheduler.idle();
      }
    }
    this.scheduler.clear();
    await this.store.close();
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

  protected async admit(intake: Intake): Promise<void> {
    const { envelope, handler } = intake;
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
  }

  protected createRecord(job: NewJob): Promise<CreateOutcome> {
    return this.store.create(job);
  }

  protected enqueueCreated(job: JobRecord, intake: Intake, now: number): Promise<void> {
    this.executor.noteQueued(job.job_id, now, job, true);
    this.emit('status', this.pendingEvent(job, now));
    this.scheduler.enqueue({
      job_id: job.job_id,
      priority: intake.execution.priority,
      seq: job.seq,
      not_before: null,
    });
    // Still queued (all slots busy): its drives may join the launch the running jobs make.
    if (this.scheduler.has(job.job_id)) this.reservations.hold(job);
    return Promise.resolve();
  }

  protected async cancelQueued(job: JobRecord, error: JobErrorInfo): Promise<boolean> {
    if (!(await this.executor.finishWithout(job, ['pending', 'assigned'], 'cancelled', error))) return false;
    this.scheduler.remove(job.job_id);
    this.reservations.release(job.job_id);
    return true;
  }

  protected stopRunning(job: JobRecord): Promise<boolean> {
    return Promise.resolve(this.executor.cancelRunning(job.job_id) !== 'not_cancellable');
  }

  protected queueSummary(): string {
    return `${this.currentState}: ${this.scheduler.depth} pending, ${this.scheduler.active} running`;
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

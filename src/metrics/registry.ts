// The Prometheus metrics of interfaces.md, each moved by the worker event it names. One registry
// per worker (never prom-client's global one) so several workers — or tests — can coexist.
// Gauges of queue state are *set* from the worker's `queue` event, never inc/dec'd, so they cannot
// drift; cpu and memory are sampled at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExploreSessions } from '../explore/sessions.js';
import { registerExploreMetrics } from './explore.js';
import { sharedAppliancePoolStatus, type ApplianceLaunchEvent } from '../../lib/appliance/index.js';
import type {
  ChecksumEvent,
  DiskIoEvent,
  HandlerExecutedEvent,
  JobFinishedEvent,
  QueueChangeEvent,
  TransportEvent,
  Worker,
} from '../worker/types.js';

/** 1, 2, 4, … 2048 seconds. */
export const DURATION_BUCKETS = Array.from({ length: 12 }, (_, i) => 2 ** i);

export const METRIC_NAMES = [
  'guestkit_worker_jobs_total',
  'guestkit_worker_jobs_duration_seconds',
  'guestkit_worker_active_jobs',
  'guestkit_worker_queue_depth',
  'guestkit_handler_executions_total',
  'guestkit_handler_duration_seconds',
  'guestkit_checksum_verifications_total',
  'guestkit_worker_disk_read_bytes_total',
  'guestkit_worker_disk_write_bytes_total',
  'guestkit_worker_cpu_seconds_total',
  'guestkit_worker_memory_bytes',
  'guestkit_transport_fetches_total',
  'guestkit_transport_errors_total',
  'guestkit_appliance_launches_total',
  'guestkit_appliance_boot_seconds',
  'guestkit_appliance_active',
  'guestkit_appliance_reserved_drives',
] as const;

/** Appliance boot times under KVM (~2-5 s) and TCG (~9-30 s): 1 s to 2 min. */
export const BOOT_BUCKETS = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128];

export interface WorkerMetricsOptions {
  /** Defaults to a fresh registry. */
  registry?: Registry;
  /** Also export Node's default process metrics (prefixed `guestkit_process_`). Default false. */
  defaultMetrics?: boolean;
  /** Explore sessions to report on (guestkit_explore_*); none by default. */
  explore?: ExploreSessions;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  readonly contentType: string;
  /** Stops listening to the worker. */
  close(): void;
}

export function createWorkerMetrics(worker: Worker, options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];

  const jobs = new Counter({
    name: 'guestkit_worker_jobs_total',
    help: 'Jobs that reached a terminal status (failed ones with their error code)',
    labelNames: ['operation', 'status', 'error_code'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: 'guestkit_worker_jobs_duration_seconds',
    help: 'Run time of a job (its last attempt) by terminal status',
    labelNames: ['operation', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const active = new Gauge({
    name: 'guestkit_worker_active_jobs',
    help: 'Jobs running now',
    registers,
  });
  const depth = new Gauge({
    name: 'guestkit_worker_queue_depth',
    help: 'Jobs pending (queued or waiting for a retry)',
    registers,
  });
  const handlerRuns = new Counter({
    name: 'guestkit_handler_executions_total',
    help: 'Handler invocations (one per attempt)',
    labelNames: ['handler', 'status'] as const,
    registers,
  });
  const handlerDuration = new Histogram({
    name: 'guestkit_handler_duration_seconds',
    help: 'Handler run time per invocation',
    labelNames: ['handler', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const checksums = new Counter({
    name: 'guestkit_checksum_verifications_total',
    help: 'Image checksum verifications by outcome',
    labelNames: ['status'] as const,
    registers,
  });
  const diskRead = new Counter({
    name: 'guestkit_worker_disk_read_bytes_total',
    help: 'Bytes the worker read from disk (hashing, copies)',
    registers,
  });
  const diskWrite = new Counter({
    name: 'guestkit_worker_disk_write_bytes_total',
    help: 'Bytes the worker wrote to disk',
    registers,
  });
  let lastCpu = process.cpuUsage();
  new Counter({
    name: 'guestkit_worker_cpu_seconds_total',
    help: 'CPU time (user + system) of the worker process since the metrics started',
    registers,
    collect() {
      const now = process.cpuUsage();
      this.inc((now.user - lastCpu.user + now.system - lastCpu.system) / 1e6);
      lastCpu = now;
    },
  });
  new Gauge({
    name: 'guestkit_worker_memory_bytes',
    help: 'Memory of the worker process',
    labelNames: ['type'] as const,
    registers,
    collect() {
      const m = process.memoryUsage();
      this.set({ type: 'rss' }, m.rss);
      this.set({ type: 'heap' }, m.heapUsed);
    },
  });
  const fetches = new Counter({
    name: 'guestkit_transport_fetches_total',
    help: 'Jobs fetched from a transport (files read, HTTP submissions, Redis jobs)',
    labelNames: ['transport'] as const,
    registers,
  });
  const transportErrors = new Counter({
    name: 'guestkit_transport_errors_total',
    help: 'Transport failures (unreadable or refused job files/requests, connection errors)',
    labelNames: ['transport'] as const,
    registers,
  });
  const launches = new Counter({
    name: 'guestkit_appliance_launches_total',
    help: 'Appliance launches by result (ok, failed)',
    labelNames: ['result'] as const,
    registers,
  });
  const boot = new Histogram({
    name: 'guestkit_appliance_boot_seconds',
    help: 'Time from creating an appliance to it answering (successful launches)',
    buckets: BOOT_BUCKETS,
    registers,
  });
  // Read from the shared pool at scrape time: set, never counted, so they cannot drift.
  new Gauge({
    name: 'guestkit_appliance_active',
    help: 'Appliances launching or running',
    registers,
    collect() {
      this.set(sharedAppliancePoolStatus()?.appliances ?? 0);
    },
  });
  new Gauge({
    name: 'guestkit_appliance_reserved_drives',
    help: 'Drives attached for pending jobs, waiting for their job to claim them',
    registers,
    collect() {
      this.set(sharedAppliancePoolStatus()?.reserved ?? 0);
    },
  });
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'guestkit_process_' });

  // Series that alerts divide by exist from the start (a rate over a missing series is no data).
  for (const status of ['success', 'failure', 'skipped']) checksums.inc({ status }, 0);
  for (const transport of new Set(['http', worker.config.transport])) {
    fetches.inc({ transport }, 0);
    transportErrors.inc({ transport }, 0);
  }
  active.set(0);
  depth.set(0);
  for (const result of ['ok', 'failed']) launches.inc({ result }, 0);

  const listeners = {
    'job:finished': (e: JobFinishedEvent) => {
      jobs.inc(
        e.status === 'failed'
          ? { operation: e.operation, status: e.status, error_code: e.error?.code ?? 'INTERNAL_ERROR' }
          : { operation: e.operation, status: e.status },
      );
      jobDuration.observe({ operation: e.operation, status: e.status }, e.duration_seconds);
    },
    queue: (e: QueueChangeEvent) => {
      depth.set(e.depth);
      active.set(e.active);
    },
    'handler:executed': (e: HandlerExecutedEvent) => {
      handlerRuns.inc({ handler: e.handler, status: e.status });
      handlerDuration.observe({ handler: e.handler, status: e.status }, e.duration_seconds);
    },
    checksum: (e: ChecksumEvent) => checksums.inc({ status: e.status }),
    'disk:io': (e: DiskIoEvent) => {
      if (e.read_bytes > 0) diskRead.inc(e.read_bytes);
      if (e.write_bytes > 0) diskWrite.inc(e.write_bytes);
    },
    'transport:fetch': (e: TransportEvent) => fetches.inc({ transport: e.transport }),
    'transport:error': (e: TransportEvent) => transportErrors.inc({ transport: e.transport }),
    'appliance:launched': (e: ApplianceLaunchEvent) => {
      launches.inc({ result: e.ok ? 'ok' : 'failed' });
      if (e.ok) boot.observe(e.seconds);
    },
  };
  worker.on('job:finished', listeners['job:finished']);
  worker.on('queue', listeners.queue);
  worker.on('handler:executed', listeners['handler:executed']);
  worker.on('checksum', listeners.checksum);
  worker.on('disk:io', listeners['disk:io']);
  worker.on('transport:fetch', listeners['transport:fetch']);
  worker.on('transport:error', listeners['transport:error']);
  const detachExplore = options.explore ? registerExploreMetrics(registry, options.explore) : undefined;
  worker.on('appliance:launched', listeners['appliance:launched']);

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    close() {
      worker.off('job:finished', listeners['job:finished']);
      worker.off('queue', listeners.queue);
      worker.off('handler:executed', listeners['handler:executed']);
      worker.off('checksum', listeners.checksum);
      worker.off('disk:io', listeners['disk:io']);
      worker.off('transport:fetch', listeners['transport:fetch']);
      worker.off('transport:error', listeners['transport:error']);
      detachExplore?.();
      worker.off('appliance:launched', listeners['appliance:launched']);
    },
  };
}

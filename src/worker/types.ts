// The public face of the worker: what the daemon, the REST API, the metrics server, the CLI and
// library users code against. One `Worker` object serves every transport.
import type { ApplianceLaunchEvent } from '../../lib/appliance/index.js';
import type { WorkerConfig } from '../config.js';
import type { ResultOf } from '../handlers/results.js';
import type { OperationName } from '../protocol/payloads/index.js';
import type { JobErrorInfo, ErrorCode } from '../protocol/errors.js';
import type {
  JobEnvelope,
  JobStatus,
  ProgressEvent,
  ResultDocument,
  TerminalStatus,
  WorkerRegistration,
  WorkerState,
} from '../protocol/schema.js';

export type { WorkerConfig } from '../config.js';
export {
  WorkerError,
  HandlerError,
  ValidationError,
  isWorkerError,
  PROTOCOL_ERROR_CODES,
  API_ERROR_CODES,
} from '../protocol/errors.js';
export type { ErrorCode, ProtocolErrorCode, ApiErrorCode, JobErrorInfo } from '../protocol/errors.js';
export type {
  JobStatus,
  TerminalStatus,
  JobEnvelope,
  ProgressEvent,
  ResultDocument,
  WorkerRegistration,
  WorkerState,
} from '../protocol/schema.js';
export { TERMINAL_STATUSES, isTerminal } from '../protocol/schema.js';

/** Where a job came from (metrics label, logs). */
export type SubmitSource = 'file' | 'http' | 'redis' | 'library';

export interface SubmitOptions {
  source?: SubmitSource;
  /** Free-form origin for logs (file name, client address). */
  origin?: string;
}

/**
 * Outcome of `submit`. `created: false` means nothing new was queued: the same document was
 * submitted again, or an idempotency key matched a completed job (then `job_id` is that job's id
 * and `status` its status).
 */
export interface SubmitResult {
  job_id: string;
  status: JobStatus;
  created: boolean;
  /** Set when `created` is false. */
  reason?: 'same_document' | 'idempotency_key';
}

export interface JobProgress {
  phase: string;
  percent: number;
  message: string;
}

/** GET /api/v1/jobs/:id — the status document of interfaces.md. Times are RFC 3339 UTC. */
export interface JobStatusDocument {
  job_id: string;
  operation: string;
  status: JobStatus;
  attempt: number;
  max_attempts: number;
  priority: number;
  submitted_at: string;
  started_at: string | null;
  completed_at: string | null;
  worker_id: string | null;
  progress: JobProgress | null;
  idempotency_key?: string;
  error?: JobErrorInfo;
  /** The disk image the job works on (`a → b` for a comparison); absent when it has none. */
  image?: string;
}

/** What was submitted, and every status change since (the dashboard's job page, retries). */
export interface SubmittedJob {
  envelope: JobEnvelope;
  /** Where it came from: file, http, redis, library. */
  source: string;
  /** Oldest first; `from` is null for the submission. */
  history: { from: JobStatus | null; to: JobStatus; at: string; attempt: number }[];
}

export type RemoveOutcome =
  | { outcome: 'deleted'; job_id: string }
  | { outcome: 'not_found'; job_id: string }
  | { outcome: 'not_terminal'; job_id: string; status: JobStatus };

export interface ListQuery {
  status?: JobStatus;
  operation?: string;
  /** 1..1000, default 100. */
  limit?: number;
  /** Opaque: `next_cursor` of the previous page. */
  cursor?: string;
}

/** Newest first. `total` counts every job matching the filters, not the page size. */
export interface ListPage {
  jobs: JobStatusDocument[];
  total: number;
  next_cursor: string | null;
}

/**
 * `cancelled`: it was pending/assigned and is now cancelled (terminal).
 * `stopping`: it was running; its signal is aborted and it becomes `cancelled` shortly (REST 202).
 * `not_cancellable`: running with `cancellable: false` (409). `already_terminal` (409). `not_found` (404).
 */
export type CancelOutcomeKind =
  'cancelled' | 'stopping' | 'not_cancellable' | 'already_terminal' | 'not_found';

export interface CancelOutcome {
  outcome: CancelOutcomeKind;
  job_id: string;
  /** Status after the request (absent when not found). */
  status?: JobStatus;
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface HealthCheck {
  status: 'ok' | 'degraded' | 'error';
  message?: string;
  latency_ms?: number;
  /** Machine-readable facts behind the message (e.g. the appliance's accelerator and cache). */
  details?: Record<string, string | number | boolean | null>;
}

/** GET /health: `checks` has at least `store`, `queue`, `libguestfs`. */
export interface HealthReport {
  status: HealthStatus;
  timestamp: string;
  uptime_seconds: number;
  checks: Record<string, HealthCheck>;
}

// ---- Events (EventEmitter). Every event fires synchronously after the store recorded it. ----

/** Every status transition (including pending on submit and retries back to pending). */
export interface StatusChangeEvent {
  job_id: string;
  operation: string;
  from: JobStatus | null;
  to: JobStatus;
  attempt: number;
  timestamp: string;
  /** Seconds spent in `from` (null for the first transition). */
  seconds_in_previous: number | null;
  /** Seconds since submission. */
  seconds_since_submit: number;
  error?: JobErrorInfo;
}

/** A job reached a terminal status (metrics: jobs_total, jobs_duration_seconds). */
export interface JobFinishedEvent {
  job_id: string;
  operation: string;
  status: TerminalStatus;
  /** Run time of the last attempt in seconds (0 when it never ran). */
  duration_seconds: number;
  attempt: number;
  error?: JobErrorInfo;
}

/** One handler invocation (= one attempt) returned (metrics: handler_executions_total, duration). */
export interface HandlerExecutedEvent {
  job_id: string;
  handler: string;
  status: 'success' | 'error';
  duration_seconds: number;
  attempt: number;
}

/** Pending count and running count changed (metrics gauges). */
export interface QueueChangeEvent {
  depth: number;
  active: number;
}

export interface ChecksumEvent {
  job_id?: string;
  status: 'success' | 'failure' | 'skipped';
}

/** Bytes handlers read or wrote (hashing, copies). Emitted per report, not totals. */
export interface DiskIoEvent {
  job_id?: string;
  read_bytes: number;
  write_bytes: number;
}

export interface TransportEvent {
  transport: 'file' | 'http' | 'redis';
  /** For errors: what went wrong. */
  error?: string;
}

export interface WorkerEvents {
  progress: [ProgressEvent];
  status: [StatusChangeEvent];
  'job:finished': [JobFinishedEvent];
  'handler:executed': [HandlerExecutedEvent];
  queue: [QueueChangeEvent];
  checksum: [ChecksumEvent];
  'disk:io': [DiskIoEvent];
  'transport:fetch': [TransportEvent];
  'transport:error': [TransportEvent];
  /** The worker moved between ready / busy / draining / offline. */
  state: [WorkerState];
  /** An appliance of the worker's pool launched (or failed to). */
  'appliance:launched': [ApplianceLaunchEvent];
}
export type WorkerEventName = keyof WorkerEvents;

export interface StopOptions {
  /** How long running jobs may finish before their signals are aborted. Default config.drainTimeoutMs. */
  drainTimeoutMs?: number;
}

/**
 * The worker. All methods are safe to call concurrently. Errors are `WorkerError`s:
 * submit rejects with VALIDATION_ERROR (protocol §2 messages), UNSUPPORTED_OPERATION,
 * CAPABILITY_MISMATCH, DUPLICATE_JOB_ID, DUPLICATE_IN_PROGRESS, or WORKER_UNAVAILABLE while draining.
 */
export interface Worker {
  readonly id: string;
  readonly config: Readonly<WorkerConfig>;
  readonly state: WorkerState;

  /** Starts the store and the scheduler (re-queues jobs a crash interrupted). Idempotent. */
  start(): Promise<void>;
  /** Stops taking jobs, lets running ones finish within the drain timeout, aborts the rest, closes the store. */
  stop(options?: StopOptions): Promise<void>;

  /** Accepts an envelope (object, already parsed). Resolves once the job is durably stored. */
  submit(input: unknown, options?: SubmitOptions): Promise<SubmitResult>;
  get(jobId: string): Promise<JobStatusDocument | undefined>;
  /** The result document once terminal; undefined while not terminal or unknown. */
  result(jobId: string): Promise<ResultDocument | undefined>;
  /**
   * The same, typed for a bundled operation: a completed document's `data` is that operation's
   * (`ResultDataOf<Op>`). Checked, not assumed: a job of another operation is a VALIDATION_ERROR.
   */
  result<Op extends OperationName>(jobId: string, operation: Op): Promise<ResultOf<Op> | undefined>;
  list(query?: ListQuery): Promise<ListPage>;
  cancel(jobId: string): Promise<CancelOutcome>;
  /** The submitted envelope and the status history; undefined when unknown. */
  submitted(jobId: string): Promise<SubmittedJob | undefined>;
  /** Deletes a terminal job with its events and result for good; a live one is refused. */
  remove(jobId: string): Promise<RemoveOutcome>;
  /** Stored progress events with sequence > afterSequence (all when omitted), oldest first. */
  events(jobId: string, afterSequence?: number): Promise<ProgressEvent[]>;
  /** Resolves with the final status document once the job is terminal. */
  waitFor(jobId: string, options?: { signal?: AbortSignal }): Promise<JobStatusDocument>;

  capabilities(): Promise<WorkerRegistration>;
  /** Distributed mode: every live worker's registration (expired heartbeats excluded). */
  workers?(): Promise<WorkerRegistration[]>;
  health(): Promise<HealthReport>;
  /** Counts by status (queue depth = pending). */
  counts(): Promise<Record<JobStatus, number>>;

  /** Transports report their traffic here so metrics see it. */
  reportTransport(event: 'transport:fetch' | 'transport:error', data: TransportEvent): void;

  on<E extends WorkerEventName>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  once<E extends WorkerEventName>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  off<E extends WorkerEventName>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
}

/** Helper for API layers: map a worker error code to an HTTP status. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_ERROR':
    case 'UNSUPPORTED_OPERATION':
    case 'CAPABILITY_MISMATCH':
    case 'IMAGE_CHECKSUM_MISMATCH':
    case 'UNSUPPORTED_IMAGE_FORMAT':
    case 'DEADLINE_EXCEEDED':
      return 400;
    case 'PATH_NOT_ALLOWED':
      return 403;
    case 'NOT_FOUND':
    case 'IMAGE_NOT_FOUND':
      return 404;
    case 'DUPLICATE_JOB_ID':
    case 'DUPLICATE_IN_PROGRESS':
    case 'NOT_READY':
    case 'NOT_CANCELLABLE':
      return 409;
    case 'WORKER_UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}

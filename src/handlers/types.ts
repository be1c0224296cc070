// The handler API: one object per operation. Handlers receive an AbortSignal and MUST honour it
// (stop child processes, kill the appliance); the executor records timeout/cancel regardless.
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { JobEnvelope } from '../protocol/schema.js';

export interface HandlerMetrics {
  /** Bytes read from disk (hashing, copies): feeds result metrics and disk_read_bytes_total. */
  diskRead(bytes: number): void;
  diskWrite(bytes: number): void;
  /** Outcome of an image checksum verification. */
  checksum(status: 'success' | 'failure' | 'skipped'): void;
}

export interface HandlerContext<TData = unknown> {
  jobId: string;
  job: JobEnvelope;
  /** The payload data as returned by the handler's `validate`. */
  data: TData;
  attempt: number;
  /** Aborted on timeout, deadline, cancel or shutdown; `signal.reason` is a WorkerError saying which. */
  signal: AbortSignal;
  /** Records a progress event (percent is clamped to 0–100). Cheap; call at phase changes. */
  progress(phase: string, percent: number, message: string, details?: Record<string, unknown>): void;
  logger: Logger;
  config: Readonly<WorkerConfig>;
  metrics: HandlerMetrics;
}

export interface ReserveContext<TData = unknown> {
  jobId: string;
  job: JobEnvelope;
  /** The payload data as returned by the handler's `validate`. */
  data: TData;
  config: Readonly<WorkerConfig>;
  /** Aborted when the job leaves the queue without running (cancel, worker stop) or has run. */
  signal: AbortSignal;
}

export interface HandlerResult<TResult = unknown> {
  /** Result document `data`. */
  data: TResult;
  outputs?: { primary?: string; artifacts?: string[] };
}

/**
 * One operation. `TData` is what `validate` returns, `TResult` the result document's `data` (the
 * bundled handlers declare theirs: `ResultDataOf<'guestkit.inspect'>` is read from them).
 */
export interface JobHandler<TData = unknown, TResult = unknown> {
  /** Operation name, e.g. `guestkit.inspect`. */
  operation: string;
  /** Accepted `payload.type` values, e.g. `['guestkit.inspect.v1']`. */
  payloadTypes: readonly string[];
  description?: string;
  /** Features / disk formats the handler needs from the worker (checked like job constraints). */
  requires?: readonly string[];
  /**
   * The run changes nothing outside its result document (no disks, files or other state), so a
   * run begun and then abandoned does no harm. The distributed worker may then hold a first run's
   * start back and write it with the run's end (one store write for a short job); a cancel that
   * lands meanwhile still wins. Leave unset for anything with side effects.
   */
  pure?: boolean;
  /**
   * Checks `payload.data` at submission (fast, no I/O) and returns it typed. Throw a
   * ValidationError / HandlerError to refuse the job.
   */
  validate(data: unknown, job: JobEnvelope): TData;
  run(ctx: HandlerContext<TData>): Promise<HandlerResult<TResult>>;
  /**
   * Optional, local worker only: the job passed intake and waits in the queue. A handler may
   * prepare for it (disk handlers reserve its drives in the appliance pool, so the launch about
   * to be made attaches them). Best effort: must not throw for a bad payload (the run reports
   * that); whatever it holds ends when `ctx.signal` aborts or the job runs.
   */
  reserve?(ctx: ReserveContext<TData>): Promise<void>;
  /**
   * Whether the tools it needs exist on this machine (qemu-img, libguestfs). Cached by the
   * handler; an unavailable handler is left out of the capabilities and refuses submissions.
   */
  available?(): Promise<HandlerAvailability>;
}

export interface HandlerAvailability {
  available: boolean;
  /** What is missing and how to fix it (when not available). */
  reason?: string;
}

/**
 * Any handler, whatever its data type (what registries hold). Every `JobHandler<T>` is one:
 * `validate` returns a T (an unknown) and `run` is a method, so TypeScript checks it bivariantly.
 */
export type AnyHandler = JobHandler<unknown>;

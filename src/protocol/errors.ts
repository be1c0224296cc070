// Error codes of Job Protocol v1 (§5) plus the few the worker's own API needs, and the one error
// class every layer throws. Handlers throw `HandlerError` (same shape) to fail a job on purpose.

/** Codes a job's `error.code` can carry (protocol §5). */
export const PROTOCOL_ERROR_CODES = [
  'VALIDATION_ERROR',
  'UNSUPPORTED_OPERATION',
  'CAPABILITY_MISMATCH',
  'PATH_NOT_ALLOWED',
  'IMAGE_NOT_FOUND',
  'IMAGE_CHECKSUM_MISMATCH',
  'UNSUPPORTED_IMAGE_FORMAT',
  'NO_OPERATING_SYSTEM',
  'APPLIANCE_ERROR',
  'EXECUTION_ERROR',
  'TIMEOUT',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'DUPLICATE_IN_PROGRESS',
  'DUPLICATE_JOB_ID',
  'INTERNAL_ERROR',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** Codes only the worker's API surface uses (never in a result document). */
export const API_ERROR_CODES = ['NOT_FOUND', 'NOT_READY', 'NOT_CANCELLABLE', 'WORKER_UNAVAILABLE'] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export type ErrorCode = ProtocolErrorCode | ApiErrorCode;

/** The `error` object of a failed result document (protocol §5). */
export interface JobErrorInfo {
  code: ProtocolErrorCode;
  message: string;
  phase?: string;
  details?: Record<string, unknown>;
  recoverable: boolean;
  retry_recommended: boolean;
}

export interface WorkerErrorOptions {
  /** Phase the job was in (e.g. `checksum`), copied into the result document. */
  phase?: string;
  details?: Record<string, unknown>;
  /** True when running the job again may succeed (drives retries). Default false. */
  recoverable?: boolean;
  cause?: unknown;
}

/** Every error the worker raises on purpose carries a protocol code and a message saying what to fix. */
export class WorkerError extends Error {
  readonly code: ErrorCode;
  readonly phase: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly recoverable: boolean;

  constructor(code: ErrorCode, message: string, options: WorkerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WorkerError';
    this.code = code;
    this.phase = options.phase;
    this.details = options.details;
    this.recoverable = options.recoverable ?? false;
  }

  /** The result-document form (API-only codes collapse to INTERNAL_ERROR). */
  toJobError(): JobErrorInfo {
    const code = (PROTOCOL_ERROR_CODES as readonly string[]).includes(this.code)
      ? (this.code as ProtocolErrorCode)
      : 'INTERNAL_ERROR';
    const info: JobErrorInfo = {
      code,
      message: this.message,
      recoverable: this.recoverable,
      retry_recommended: this.recoverable,
    };
    if (this.phase !== undefined) info.phase = this.phase;
    if (this.details !== undefined) info.details = this.details;
    return info;
  }
}

/** Thrown by handlers to fail a job with a specific code (same shape as WorkerError). */
export class HandlerError extends WorkerError {
  constructor(code: ProtocolErrorCode, message: string, options: WorkerErrorOptions = {}) {
    super(code, message, options);
    this.name = 'HandlerError';
  }
}

/** Shorthand for the validation failures of protocol §2. */
export class ValidationError extends WorkerError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('VALIDATION_ERROR', message, { phase: 'validation', details });
    this.name = 'ValidationError';
  }
}

export function isWorkerError(err: unknown): err is WorkerError {
  return err instanceof WorkerError;
}

/**
 * Turns anything thrown by a handler into a result-document error. Unknown exceptions become
 * EXECUTION_ERROR (not recoverable) so a buggy handler fails its job instead of the worker.
 */
export function toJobError(err: unknown, phase?: string): JobErrorInfo {
  if (err instanceof WorkerError) {
    const info = err.toJobError();
    if (info.phase === undefined && phase !== undefined) info.phase = phase;
    return info;
  }
  const message = err instanceof Error ? err.message : String(err);
  const info: JobErrorInfo = {
    code: 'EXECUTION_ERROR',
    message: message || 'Handler failed without a message',
    recoverable: false,
    retry_recommended: false,
  };
  if (phase !== undefined) info.phase = phase;
  return info;
}

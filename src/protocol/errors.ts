// Error codes of Job Protocol v1 (§5) plus the few the worker's own API needs, and the one error
// class every layer throws. Handlers throw `HandlerError` (same shape) to fail a job on purpose.
import { CodedError } from '../../lib/errors.js';
import {
  API_ERROR_CODES,
  PROTOCOL_ERROR_CODES,
  type ErrorCode,
  type ProtocolErrorCode,
} from './vocabulary.js';

export {
  PROTOCOL_ERROR_CODES,
  API_ERROR_CODES,
  type ProtocolErrorCode,
  type ApiErrorCode,
  type ErrorCode,
} from './vocabulary.js';

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

/**
 * Every error the worker raises on purpose carries a protocol code and a message saying what to
 * fix (the library's own errors have the same shape, see {@link isCodedError}).
 */
export class WorkerError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message: string, options: WorkerErrorOptions = {}) {
    super(code, message, options);
    this.name = 'WorkerError';
  }

  /** The result-document form (API-only codes collapse to INTERNAL_ERROR). */
  toJobError(): JobErrorInfo {
    return codedJobError(this);
  }
}

function codedJobError(err: CodedError): JobErrorInfo {
  const code = (PROTOCOL_ERROR_CODES as readonly string[]).includes(err.code)
    ? (err.code as ProtocolErrorCode)
    : 'INTERNAL_ERROR';
  const info: JobErrorInfo = {
    code,
    message: err.message,
    recoverable: err.recoverable,
    retry_recommended: err.recoverable,
  };
  if (err.phase !== undefined) info.phase = err.phase;
  if (err.details !== undefined) info.details = err.details;
  return info;
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
 * An error raised on purpose, by the worker or by the library (whose codes are protocol codes):
 * the job reports it as is.
 */
export function isCodedError(err: unknown): err is CodedError<ErrorCode> {
  return (
    err instanceof CodedError &&
    ((PROTOCOL_ERROR_CODES as readonly string[]).includes(err.code) ||
      (API_ERROR_CODES as readonly string[]).includes(err.code))
  );
}

/** The worker's form of a coded error (a library error keeps its code, phase, details). */
export function asWorkerError(err: CodedError<ErrorCode>): WorkerError {
  if (err instanceof WorkerError) return err;
  return new WorkerError(err.code, err.message, {
    phase: err.phase,
    details: err.details,
    recoverable: err.recoverable,
    cause: err,
  });
}

/**
 * Turns anything thrown by a handler into a result-document error. Unknown exceptions become
 * EXECUTION_ERROR (not recoverable) so a buggy handler fails its job instead of the worker.
 */
export function toJobError(err: unknown, phase?: string): JobErrorInfo {
  if (isCodedError(err)) {
    const info = codedJobError(err);
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

// The library's own coded error. The library knows nothing of the worker, but the failures it
// raises on purpose (a bad image, an appliance that would not start) are the ones a job reports:
// they carry a code from the Job Protocol's vocabulary, which the worker passes on unchanged.

import { LIBRARY_ERROR_CODES, type LibraryErrorCode } from './vocabulary.js';

export { LIBRARY_ERROR_CODES, type LibraryErrorCode };

export interface LibraryErrorOptions {
  /** Where it happened (`disk_attach`, `validation`…), for the job's result document. */
  phase?: string;
  details?: Record<string, unknown>;
  /** True when trying again may succeed (a launch that failed for want of memory…). */
  recoverable?: boolean;
  cause?: unknown;
}

/**
 * An error raised on purpose: a code from a fixed vocabulary, a message saying what to fix, and
 * where it happened. The library's errors and the worker's share this shape.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly phase: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly recoverable: boolean;

  constructor(code: C, message: string, options: LibraryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodedError';
    this.code = code;
    this.phase = options.phase;
    this.details = options.details;
    this.recoverable = options.recoverable ?? false;
  }
}

/** A failure the library raises on purpose (`ApplianceError` is one). */
export class LibraryError extends CodedError<LibraryErrorCode> {
  constructor(code: LibraryErrorCode, message: string, options: LibraryErrorOptions = {}) {
    super(code, message, options);
    this.name = 'LibraryError';
  }
}

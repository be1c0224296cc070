// The explorer's coded error: a bad path or pattern, a missing file, a bound hit.
import { CodedError, type LibraryErrorOptions } from '../errors.js';

export const EXPLORE_ERROR_CODES = [
  /** A path, glob, pattern or range that cannot be used: the message says what to fix. */
  'VALIDATION_ERROR',
  /** No such file or directory in the guest. */
  'FILE_NOT_FOUND',
  /** A directory operation on something else, or the reverse. */
  'NOT_A_DIRECTORY',
  'IS_A_DIRECTORY',
  /** A read or download range past the end of the file. */
  'RANGE_NOT_SATISFIABLE',
  /** The explorer was closed (session ended, appliance gone). */
  'EXPLORER_CLOSED',
] as const;
export type ExploreErrorCode = (typeof EXPLORE_ERROR_CODES)[number];

/** A failure of an {@link Explorer} call, with a code from {@link EXPLORE_ERROR_CODES}. */
export class ExploreError extends CodedError<ExploreErrorCode> {
  constructor(code: ExploreErrorCode, message: string, options: LibraryErrorOptions = {}) {
    super(code, message, options);
    this.name = 'ExploreError';
  }
}

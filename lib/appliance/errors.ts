import { LibraryError, type LibraryErrorCode, type LibraryErrorOptions } from '../errors.js';

/**
 * What went wrong with an image or an appliance (`code` from the protocol's vocabulary, `phase`
 * where it happened, `disk_attach` unless said otherwise). A worker reports it as the job's error.
 */
export class ApplianceError extends LibraryError {
  constructor(code: LibraryErrorCode, message: string, options: LibraryErrorOptions = {}) {
    super(code, message, { phase: 'disk_attach', ...options });
    this.name = 'ApplianceError';
  }
}

// The library's share of the Job Protocol vocabulary: constants only, importing nothing, so the
// worker (src/protocol/vocabulary.ts) and the browser dashboard can build on them.

/**
 * Codes the library raises. Each is also a Job Protocol v1 error code (the worker's list is built
 * from this one), so a job failing with a library error reports it as is.
 */
export const LIBRARY_ERROR_CODES = [
  'VALIDATION_ERROR',
  'PATH_NOT_ALLOWED',
  'IMAGE_NOT_FOUND',
  'IMAGE_CHECKSUM_MISMATCH',
  'UNSUPPORTED_IMAGE_FORMAT',
  'NO_OPERATING_SYSTEM',
  'APPLIANCE_ERROR',
  'CANCELLED',
  'EXECUTION_ERROR',
] as const;
export type LibraryErrorCode = (typeof LIBRARY_ERROR_CODES)[number];

/** Disk image formats the worker opens, converts and advertises (qemu's names). */
export const DISK_FORMATS = ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

// The Job Protocol's vocabulary, defined once: job statuses, operation names, disk formats and
// error codes. Constants only (it imports nothing but lib/vocabulary.ts, which imports nothing),
// so the server, the stores, the CLI and the browser dashboard all import this same file.
import { DISK_FORMATS, LIBRARY_ERROR_CODES, type DiskFormat } from '../../lib/vocabulary.js';

export { DISK_FORMATS, LIBRARY_ERROR_CODES, type DiskFormat };

/** Every status a job can be in, in lifecycle order. */
export const JOB_STATUSES = [
  'pending',
  'assigned',
  'running',
  'completed',
  'failed',
  'cancelled',
  'timeout',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled', 'timeout'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminal(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Operation names of the built-in handlers (the original worker's names). */
export const OPERATIONS = {
  echo: 'system.echo',
  testEcho: 'test.echo',
  inspect: 'guestkit.inspect',
  profile: 'guestkit.profile',
  compare: 'guestkit.compare',
  convert: 'guestkit.convert',
  fix: 'guestkit.fix',
  doctor: 'guestkit.doctor',
  migratePlan: 'guestkit.migrate-plan',
  repair: 'guestkit.repair',
} as const;
export type BuiltinOperation = (typeof OPERATIONS)[keyof typeof OPERATIONS];

/**
 * Codes a job's `error.code` can carry (protocol §5): the library's own (a bad image, an appliance
 * that would not start) and the worker's.
 */
export const PROTOCOL_ERROR_CODES = [
  ...LIBRARY_ERROR_CODES,
  'UNSUPPORTED_OPERATION',
  'CAPABILITY_MISMATCH',
  'TIMEOUT',
  'DEADLINE_EXCEEDED',
  'DUPLICATE_IN_PROGRESS',
  'DUPLICATE_JOB_ID',
  'INTERNAL_ERROR',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** Codes only the worker's API surface uses (never in a result document). */
export const API_ERROR_CODES = ['NOT_FOUND', 'NOT_READY', 'NOT_CANCELLABLE', 'WORKER_UNAVAILABLE'] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export type ErrorCode = ProtocolErrorCode | ApiErrorCode;

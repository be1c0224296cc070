// The SQLite store's schema, its row shape and the conversions between rows and records.
import { ValidationError, type JobErrorInfo } from '../protocol/errors.js';
import type { JobStatus } from '../protocol/schema.js';
import { JOB_STATUSES } from '../protocol/vocabulary.js';
import type { JobProgress } from '../worker/types.js';
import type { JobRecord } from './types.js';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE,
  operation TEXT NOT NULL,
  payload_type TEXT NOT NULL,
  status TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  execution TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  started_at INTEGER,
  completed_at INTEGER,
  not_before INTEGER,
  worker_id TEXT,
  progress TEXT,
  error TEXT,
  idempotency_key TEXT,
  envelope TEXT NOT NULL,
  source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs(priority DESC, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS jobs_status_seq ON jobs(status, seq);
CREATE INDEX IF NOT EXISTS jobs_operation_seq ON jobs(operation, seq);
CREATE INDEX IF NOT EXISTS jobs_completed ON jobs(completed_at) WHERE completed_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, job_id TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_job ON idempotency_keys(job_id);
CREATE TABLE IF NOT EXISTS status_history (
  id INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  from_status TEXT,
  to_status TEXT NOT NULL,
  at INTEGER NOT NULL,
  attempt INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS status_history_job ON status_history(job_id);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (job_id, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results (job_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
`;

export interface JobRow {
  seq: number;
  job_id: string;
  operation: string;
  payload_type: string;
  status: JobStatus;
  attempt: number;
  priority: number;
  execution: string;
  submitted_at: number;
  started_at: number | null;
  completed_at: number | null;
  not_before: number | null;
  worker_id: string | null;
  progress: string | null;
  error: string | null;
  idempotency_key: string | null;
  envelope: string;
  source: string;
}

export function fromRow(row: JobRow): JobRecord {
  return {
    job_id: row.job_id,
    operation: row.operation,
    payload_type: row.payload_type,
    status: row.status,
    attempt: row.attempt,
    execution: JSON.parse(row.execution) as JobRecord['execution'],
    submitted_at: row.submitted_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
    not_before: row.not_before,
    worker_id: row.worker_id,
    progress: row.progress === null ? null : (JSON.parse(row.progress) as JobProgress),
    error: row.error === null ? null : (JSON.parse(row.error) as JobErrorInfo),
    seq: row.seq,
    envelope: JSON.parse(row.envelope) as JobRecord['envelope'],
    source: row.source,
  };
}

export const ALL_STATUSES: readonly JobStatus[] = JOB_STATUSES;

/** Jobs deleted per purge transaction: small enough to keep each commit to a few milliseconds. */
export const PURGE_BATCH = 200;

export function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): number | undefined {
  const m = /^s(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m ? Number(m[1]) : undefined;
}

/** A list cursor that is not one this store handed out: a 400 with what to do. */
export function invalidCursor(cursor: string): ValidationError {
  return new ValidationError(
    `Invalid cursor '${cursor.slice(0, 64)}': use the next_cursor of a previous page, or omit it for the first page`,
    { field: 'cursor' },
  );
}

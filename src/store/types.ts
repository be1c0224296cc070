// The seam between the worker and its durable state. The embedded default is SQLite
// (sqlite.ts); a Redis store for distributed mode implements the same interface. Every method is
// async so a networked store fits; decisions that must be atomic (duplicate ids, idempotency keys,
// conditional transitions) are made inside the store, never by read-then-write in the worker.
import type { JobErrorInfo } from '../protocol/errors.js';
import type {
  JobEnvelope,
  JobStatus,
  ProgressEvent,
  ResolvedExecution,
  ResultDocument,
} from '../protocol/schema.js';
import type { JobProgress, ListQuery } from '../worker/types.js';

export interface JobRecord {
  job_id: string;
  operation: string;
  payload_type: string;
  status: JobStatus;
  /** Current (or next) attempt, 1-based. */
  attempt: number;
  execution: ResolvedExecution;
  /** Epoch ms. */
  submitted_at: number;
  started_at: number | null;
  completed_at: number | null;
  /** Epoch ms before which a retried job must not start (backoff). */
  not_before: number | null;
  worker_id: string | null;
  progress: JobProgress | null;
  error: JobErrorInfo | null;
  /** Monotonic submission order (ties in priority run oldest first). */
  seq: number;
  envelope: JobEnvelope;
  source: string;
}

export type NewJob = Omit<
  JobRecord,
  'seq' | 'status' | 'started_at' | 'completed_at' | 'not_before' | 'worker_id' | 'progress' | 'error'
> & {
  /**
   * Canonical JSON of the submitted document (sorted keys). Stored as the envelope; a resubmission
   * with the same text is the same document (idempotent), any other with that id is a duplicate.
   */
  document: string;
};

export type CreateOutcome =
  | { kind: 'created'; job: JobRecord }
  /** Same job_id, same document: nothing new. */
  | { kind: 'same_document'; job: JobRecord }
  | { kind: 'duplicate_job_id'; job: JobRecord }
  /** Idempotency key of a completed job: its id and result are the answer. */
  | { kind: 'idempotent_completed'; job: JobRecord }
  | { kind: 'idempotent_in_flight'; job: JobRecord };

/** Fields a transition may set alongside the status. */
export interface TransitionPatch {
  attempt?: number;
  started_at?: number | null;
  completed_at?: number | null;
  not_before?: number | null;
  worker_id?: string | null;
  error?: JobErrorInfo | null;
  progress?: JobProgress | null;
}

export interface StatusHistoryEntry {
  job_id: string;
  from: JobStatus | null;
  to: JobStatus;
  at: number;
  attempt: number;
}

export interface WriteOptions {
  /**
   * false: the store may resolve before the write is durable (it is still applied in order and
   * made durable shortly after). For intermediate states a crash may lose without harm (assigned,
   * running, progress events): recovery re-queues the job either way. Default true.
   */
  durable?: boolean;
}

export interface TransitionOptions extends WriteOptions {
  /**
   * The caller's copy of the record as it was in one of `from`. A store may build the returned
   * record from it plus the patch instead of reading the row back (the status check stays in the
   * store). Only fields the store does not change behind the caller's back are taken from it.
   */
  current?: JobRecord;
}

export interface StoreListPage {
  jobs: JobRecord[];
  total: number;
  next_cursor: string | null;
}

export interface JobStore {
  readonly kind: string;
  open(): Promise<void>;
  close(): Promise<void>;

  /** Inserts a pending job unless its id or idempotency key says otherwise (atomic). */
  create(job: NewJob): Promise<CreateOutcome>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Moves a job to `to` only if its status is one of `from` (compare-and-set); records the history
   * entry. With `result` (terminal transitions) the result document is stored in the same step.
   * Returns the updated record, or undefined when the job was not in an expected status.
   */
  transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch?: TransitionPatch,
    result?: ResultDocument,
    options?: TransitionOptions,
  ): Promise<JobRecord | undefined>;
  /** Stores a progress event (keeping the newest `eventsPerJob`) and the job's latest progress. */
  appendEvent(event: ProgressEvent, options?: WriteOptions): Promise<void>;
  events(jobId: string, afterSequence?: number): Promise<ProgressEvent[]>;
  /** Highest stored sequence, -1 when none (a re-run continues numbering after a crash). */
  lastSequence(jobId: string): Promise<number>;
  result(jobId: string): Promise<ResultDocument | undefined>;
  history(jobId: string): Promise<StatusHistoryEntry[]>;
  list(query: ListQuery): Promise<StoreListPage>;
  counts(): Promise<Record<JobStatus, number>>;
  /**
   * Pending jobs in run order (priority desc, seq asc), at most `limit`, starting after the job
   * with (`after.priority`, `after.seq`) when given (keyset paging through large queues).
   */
  pending(limit: number, after?: { priority: number; seq: number }): Promise<JobRecord[]>;
  /**
   * Crash recovery: jobs left `assigned`/`running` (by this worker id, or any when workerId is
   * undefined) go back to `pending` with attempt + 1. Returns them.
   */
  requeueInterrupted(workerId?: string): Promise<JobRecord[]>;
  /** Deletes terminal jobs completed before `olderThan` (epoch ms), with their events and results. */
  purgeTerminal(olderThan: number): Promise<number>;
  /**
   * Deletes one terminal job with its events, result, history and idempotency key, for good
   * (atomic). False when the job is unknown or not terminal (a live job is cancelled, not deleted).
   */
  deleteTerminal(jobId: string): Promise<boolean>;
  /** Cheap liveness probe. */
  ping(): Promise<void>;
}

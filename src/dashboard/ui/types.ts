// The API documents the dashboard reads (a subset of the server's types: only what is shown).

import { JOB_STATUSES, TERMINAL_STATUSES, type JobStatus } from '../../protocol/vocabulary.js';

export type { JobStatus };
export const STATUSES: readonly JobStatus[] = JOB_STATUSES;
export const TERMINAL = new Set<JobStatus>(TERMINAL_STATUSES);

export interface JobError {
  code: string;
  message: string;
  phase?: string;
  details?: Record<string, unknown>;
  recoverable?: boolean;
}

export interface JobStatusDoc {
  job_id: string;
  operation: string;
  status: JobStatus;
  attempt: number;
  max_attempts?: number;
  priority?: number;
  submitted_at: string;
  started_at: string | null;
  completed_at: string | null;
  worker_id: string | null;
  progress: { phase: string; percent: number; message: string } | null;
  error?: JobError;
  /** The disk image the job works on (`a → b` for a compare). */
  image?: string;
}

export interface ListPage {
  jobs: JobStatusDoc[];
  total: number;
  next_cursor: string | null;
}

export interface ProgressEvent {
  job_id: string;
  timestamp: string;
  sequence: number;
  phase: string;
  progress_percent: number;
  message: string;
  details?: Record<string, unknown>;
}

export interface StatusChange {
  job_id: string;
  operation: string;
  from: JobStatus | null;
  to: JobStatus;
  attempt: number;
  timestamp: string;
}

export interface ResultDoc {
  job_id: string;
  status: JobStatus;
  completed_at?: string;
  failed_at?: string;
  worker_id?: string;
  execution_summary?: { started_at?: string; duration_seconds?: number; attempt?: number };
  outputs?: { primary?: string; artifacts?: string[] };
  error?: JobError;
  data?: unknown;
}

export interface Stats {
  counts: Record<string, number>;
  active_jobs: number;
  queue_depth: number;
  window_seconds: number;
  finished_in_window: number;
  failed_in_window: number;
  jobs_per_minute: number;
  appliances: {
    active: number;
    drives: number;
    /** Drives of queued jobs attached ahead of time (they join a launch instead of needing one). */
    reserved: number;
    queued: number;
    launches: number;
    launch_failures: number;
  };
}

export interface Registration {
  worker_id: string;
  version: string;
  hostname?: string;
  registered_at?: string;
  capabilities: { operations: string[]; features: string[]; disk_formats: string[] };
  resources?: Record<string, number | null>;
  configuration?: { privileged?: boolean; worker_pool?: string };
  status?: { state: string; current_jobs: number; last_heartbeat: string };
}

export interface Health {
  status: string;
  uptime_seconds: number;
  checks: Record<string, { status: string; message?: string; latency_ms?: number }>;
}

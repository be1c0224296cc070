// Redis hash ⇄ JobRecord: how the store's scripts take and give a job's fields.
import type { JobErrorInfo } from '../protocol/errors.js';
import type { JobStatus, ProgressEvent } from '../protocol/schema.js';
import type { JobRecord, TransitionPatch } from '../store/types.js';
import type { JobProgress } from '../worker/types.js';
import { MUTABLE_FIELDS } from './scripts/index.js';

export const progressOf = (e: ProgressEvent): JobProgress => ({
  phase: e.phase,
  percent: e.progress_percent,
  message: e.message,
});

const num = (v: string | null | undefined): number | null =>
  v === undefined || v === null || v === '' ? null : Number(v);
const str = (v: string | null | undefined): string | null =>
  v === undefined || v === null || v === '' ? null : v;

export function pairsToHash(pairs: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) h[pairs[i]] = pairs[i + 1];
  return h;
}

export function recordFromHash(h: Record<string, string>, envelope?: JobRecord['envelope']): JobRecord {
  return {
    job_id: h.job_id,
    operation: h.operation,
    payload_type: h.payload_type,
    status: h.status as JobStatus,
    attempt: Number(h.attempt),
    execution: JSON.parse(h.execution) as JobRecord['execution'],
    submitted_at: Number(h.submitted_at),
    started_at: num(h.started_at),
    completed_at: num(h.completed_at),
    not_before: num(h.not_before),
    worker_id: str(h.worker_id),
    progress: h.progress ? (JSON.parse(h.progress) as JobProgress) : null,
    error: h.error ? (JSON.parse(h.error) as JobErrorInfo) : null,
    seq: Number(h.seq),
    envelope: envelope ?? (JSON.parse(h.document) as JobRecord['envelope']),
    source: h.source,
  };
}

/** `current` with the fields a move may change as the store now has them (`v`: MUTABLE_FIELDS' values). */
export function withMutable(current: JobRecord, status: JobStatus, v: (string | null)[]): JobRecord {
  const h: Partial<Record<(typeof MUTABLE_FIELDS)[number], string | null>> = {};
  MUTABLE_FIELDS.forEach((f, i) => (h[f] = v[i]));
  return {
    ...current,
    status,
    attempt: Number(h.attempt),
    worker_id: str(h.worker_id),
    started_at: num(h.started_at),
    completed_at: num(h.completed_at),
    not_before: num(h.not_before),
    progress: h.progress ? (JSON.parse(h.progress) as JobProgress) : null,
    error: h.error ? (JSON.parse(h.error) as JobErrorInfo) : null,
  };
}

/** Patch → field/value pairs ('' stores null). */
export function patchPairs(patch: TransitionPatch): string[] {
  const out: string[] = [];
  const put = (k: string, v: number | string | null) => out.push(k, v === null ? '' : String(v));
  if (patch.attempt !== undefined) put('attempt', patch.attempt);
  if (patch.started_at !== undefined) put('started_at', patch.started_at);
  if (patch.completed_at !== undefined) put('completed_at', patch.completed_at);
  if (patch.not_before !== undefined) put('not_before', patch.not_before);
  if (patch.worker_id !== undefined) put('worker_id', patch.worker_id);
  if (patch.error !== undefined) put('error', patch.error === null ? null : JSON.stringify(patch.error));
  if (patch.progress !== undefined) {
    put('progress', patch.progress === null ? null : JSON.stringify(patch.progress));
  }
  return out;
}

// Job documents the dashboard makes (pure: no DOM): fresh envelopes for the submit forms, and
// the resubmission of a finished job for Retry.

/** A job id nobody has used: prefix, time, random. */
export function newJobId(prefix: string): string {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  return `${prefix}-${Date.now().toString(36)}-${[...rand].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** A v1 envelope for `operation` with `data`, labelled as submitted from the dashboard. */
export function envelope(operation: string, data: unknown, prefix: string) {
  return {
    version: '1.0',
    job_id: newJobId(prefix),
    created_at: new Date().toISOString(),
    kind: 'VMOperation',
    operation,
    payload: { type: `${operation}.v1`, data },
    metadata: { labels: { submitted_from: 'dashboard' } },
  };
}

type Doc = Record<string, unknown>;
const isDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The job to submit when a finished job is retried: the same operation, payload and execution
 * settings under a new id, created now. Dropped: the idempotency key (the worker would answer
 * with the old job instead of running it) and a deadline already passed (it would fail at once).
 * Labelled `retry_of` so the two can be found together.
 */
export function retryEnvelope(submitted: unknown, now = Date.now()): Doc {
  if (!isDoc(submitted)) throw new Error('The submitted job is not an object');
  const doc: Doc = { ...submitted, job_id: newJobId('retry'), created_at: new Date(now).toISOString() };
  if (isDoc(submitted.execution)) {
    const execution: Doc = { ...submitted.execution };
    delete execution.idempotency_key;
    const deadline = execution.deadline;
    if (typeof deadline === 'string' && Date.parse(deadline) <= now) delete execution.deadline;
    doc.execution = execution;
  }
  const metadata = isDoc(submitted.metadata) ? submitted.metadata : {};
  const labels = isDoc(metadata.labels) ? metadata.labels : {};
  doc.metadata = { ...metadata, labels: { ...labels, retry_of: String(submitted.job_id) } };
  return doc;
}

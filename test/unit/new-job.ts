// A NewJob as intake makes it (for store and executor tests): an echo-shaped envelope whose data
// carries `doc` (a different doc, a different document) and an empty array (it must round-trip).
import type { ResolvedExecution } from '../../src/protocol/schema.js';
import type { NewJob } from '../../src/store/types.js';

export function newJob(
  id: string,
  patch: Partial<ResolvedExecution> = {},
  doc = '{}',
  operation = 'system.echo',
): NewJob {
  const execution: ResolvedExecution = {
    idempotency_key: null,
    attempt: 1,
    max_attempts: 1,
    timeout_seconds: 60,
    deadline: null,
    priority: 5,
    cancellable: true,
    ...patch,
  };
  const envelope = {
    version: '1.0',
    job_id: id,
    created_at: '2025-01-01T00:00:00Z',
    kind: 'VMOperation',
    operation,
    payload: { type: `${operation}.v1`, data: { doc, empty: [] as unknown[] } },
  };
  return {
    job_id: id,
    operation,
    payload_type: `${operation}.v1`,
    attempt: execution.attempt,
    execution,
    submitted_at: Date.now(),
    envelope,
    source: 'library',
    document: JSON.stringify(envelope),
  };
}

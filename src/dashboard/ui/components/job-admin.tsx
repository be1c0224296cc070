// A finished job's actions (retry as a new job, delete for good) and what was submitted (the
// envelope and the attempt history), for the job page.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure } from '../api.js';
import { retryEnvelope } from '../envelopes.js';
import { time } from '../format.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';
import type { JobStatusDoc } from '../types.js';
import { ErrorBox, StatusBadge, TableWrap } from './common.js';

export interface Submission {
  envelope: unknown;
  source: string;
  history: { from: JobStatusDoc['status'] | null; to: JobStatusDoc['status']; at: string; attempt: number }[];
}

/** Retry (a new job with the same payload) and delete (confirmed in a second step). */
export function FinishedJobActions({ job }: { job: JobStatusDoc }) {
  const [error, setError] = useState<ApiFailure>();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const enc = encodeURIComponent(job.job_id);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof ApiFailure ? e : new ApiFailure(0, 'ERROR', (e as Error).message));
    } finally {
      setBusy(false);
    }
  };
  const retry = () =>
    run(async () => {
      const sub = await api<Submission>(`/api/v1/jobs/${enc}/submission`);
      const r = await api<{ job_id: string }>('/api/v1/jobs', {
        method: 'POST',
        body: retryEnvelope(sub.envelope),
      });
      location.hash = href.job(r.job_id);
    });
  const remove = () =>
    run(async () => {
      await api(`/api/v1/jobs/${enc}/record`, { method: 'DELETE' });
      location.hash = href.jobs();
    });

  return (
    <div class="actions">
      <button type="button" onClick={retry} disabled={busy}>
        {job.status === 'completed' ? 'Run again' : 'Retry'} as a new job
      </button>
      {!confirming ? (
        <button type="button" class="secondary" onClick={() => setConfirming(true)} disabled={busy}>
          Delete job…
        </button>
      ) : (
        <>
          <button type="button" class="danger" onClick={remove} disabled={busy}>
            Delete for good
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
          <span class="small muted">The status, events and result go; this cannot be undone.</span>
        </>
      )}
      {error && <ErrorBox error={error} title="Refused" />}
    </div>
  );
}

/** The envelope as submitted and every status change (the attempts). */
export function SubmissionView({ id, status }: { id: string; status: string }) {
  const sub = useApi<Submission>(`/api/v1/jobs/${encodeURIComponent(id)}/submission`);
  // Reloaded at each status change, so the history grows with the job.
  const { reload } = sub;
  useEffect(reload, [status, reload]);
  if (sub.error) return <ErrorBox error={sub.error} title="Could not load the submission" />;
  if (!sub.data) return null;
  const { envelope, source, history } = sub.data;
  return (
    <>
      <section class="card" aria-labelledby="attempts-h">
        <h2 id="attempts-h">Attempts</h2>
        <TableWrap label="Status history">
          <table class="history">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Attempt</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {history.map((h, i) => (
                <tr key={i}>
                  <td>{time(h.at)}</td>
                  <td>{h.attempt}</td>
                  <td>
                    {h.from ? <StatusBadge status={h.from} /> : 'submitted'} → <StatusBadge status={h.to} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </section>
      <section class="card" aria-labelledby="submitted-h">
        <h2 id="submitted-h">Submitted job</h2>
        <p class="muted">Source: {source}</p>
        <details>
          <summary>Job envelope (JSON)</summary>
          <pre class="json" tabIndex={0} aria-label="Submitted job envelope">
            {JSON.stringify(envelope, null, 2)}
          </pre>
        </details>
      </section>
    </>
  );
}

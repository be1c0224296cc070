// One job: status, progress timeline (live over its SSE stream), cancel, result or error, the
// attempts and the submitted envelope; a finished job can be retried as a new one or deleted.
import { useState } from 'preact/hooks';
import { api, ApiFailure, type SseMessage } from '../api.js';
import { ErrorBox, Loading, ProgressBar, StatusBadge } from '../components/common.js';
import { FinishedJobActions, SubmissionView } from '../components/job-admin.js';
import { duration, time } from '../format.js';
import { useApi, useEventStream } from '../hooks.js';
import { href } from '../router.js';
import { TERMINAL, type JobStatusDoc, type ProgressEvent, type ResultDoc } from '../types.js';
import { OPERATIONS } from '../../../protocol/vocabulary.js';

const REPORT_OPERATIONS = new Set<string>([OPERATIONS.inspect, OPERATIONS.profile]);
const DOCTOR_OPERATIONS = new Set(['guestkit.doctor', 'guestkit.migrate-plan', 'guestkit.repair']);

export function JobPage({ id }: { id: string }) {
  const enc = encodeURIComponent(id);
  const job = useApi<JobStatusDoc>(`/api/v1/jobs/${enc}`);
  const [events, setEvents] = useState<ProgressEvent[]>([]);
  const [cancelMsg, setCancelMsg] = useState<string>();
  const [cancelErr, setCancelErr] = useState<ApiFailure>();
  const [busy, setBusy] = useState(false);
  const terminal = job.data ? TERMINAL.has(job.data.status) : false;
  const result = useApi<{ data: ResultDoc }>(terminal ? `/api/v1/jobs/${enc}/result` : null);

  const onEvent = (m: SseMessage) => {
    if (m.event === 'progress') {
      const e = JSON.parse(m.data) as ProgressEvent;
      setEvents((list) => (list.some((x) => x.sequence === e.sequence) ? list : [...list, e]));
    } else if (m.event === 'status' || m.event === 'end') job.reload();
  };
  // Events are replayed from the start, so the timeline is complete after a reconnect too.
  const stream = useEventStream(job.data && !terminal ? `/api/v1/jobs/${enc}/events` : null, onEvent);

  if (job.error) return <ErrorBox error={job.error} title={`Job ${id}`} />;
  if (!job.data) return <Loading what={`job ${id}`} />;
  const j = job.data;

  const cancel = async () => {
    setBusy(true);
    setCancelErr(undefined);
    try {
      const r = await api<{ message: string }>(`/api/v1/jobs/${enc}`, { method: 'DELETE' });
      setCancelMsg(r.message);
      job.reload();
    } catch (e) {
      setCancelErr(e as ApiFailure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p>
        <a href={href.jobs()}>← All jobs</a>
      </p>
      <h1>
        Job <span class="mono">{j.job_id}</span>
      </h1>
      <div class="card job-head">
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={j.status} />
          </dd>
          <dt>Operation</dt>
          <dd class="mono">{j.operation}</dd>
          <dt>Attempt</dt>
          <dd>
            {j.attempt}
            {j.max_attempts ? ` of ${j.max_attempts}` : ''}
          </dd>
          <dt>Submitted</dt>
          <dd>{time(j.submitted_at)}</dd>
          <dt>Started</dt>
          <dd>{time(j.started_at)}</dd>
          <dt>Finished</dt>
          <dd>{time(j.completed_at)}</dd>
          <dt>Worker</dt>
          <dd class="mono">{j.worker_id ?? '—'}</dd>
        </dl>
        {j.image && (
          <p>
            Image <span class="mono">{j.image}</span>
          </p>
        )}
        {!terminal && <ProgressBar percent={j.progress?.percent ?? 0} label="Job progress" />}
        {!terminal && j.progress && (
          <p class="muted">
            {j.progress.phase}: {j.progress.message}
          </p>
        )}
        {terminal && j.status !== 'completed' && j.progress && (
          <p class="muted">
            Stopped in {j.progress.phase} at {Math.round(j.progress.percent)}%
          </p>
        )}
        {!terminal && (
          <button type="button" class="danger" onClick={cancel} disabled={busy}>
            Cancel job
          </button>
        )}
        {terminal && <FinishedJobActions job={j} />}
        {cancelMsg && <p role="status">{cancelMsg}</p>}
        {cancelErr && <ErrorBox error={cancelErr} title="Cancel refused" />}
      </div>

      <section class="card" aria-labelledby="timeline-h">
        <h2 id="timeline-h">Timeline</h2>
        {terminal ? <StoredTimeline id={id} /> : <Timeline events={events} />}
        {!terminal && <p class="small muted">Stream: {stream}</p>}
      </section>

      {terminal && (
        <section class="card" aria-labelledby="result-h">
          <h2 id="result-h">{j.status === 'completed' ? 'Result' : 'Error'}</h2>
          {result.error && <ErrorBox error={result.error} title="Could not load the result" />}
          {result.data && <ResultView job={j} result={result.data.data} />}
        </section>
      )}
      <SubmissionView id={id} status={j.status} />
    </>
  );
}

/** After the end the stored events are the whole story: read them once from the stream. */
function StoredTimeline({ id }: { id: string }) {
  const [events, setEvents] = useState<ProgressEvent[]>([]);
  useEventStream(`/api/v1/jobs/${encodeURIComponent(id)}/events`, (m) => {
    if (m.event === 'progress') setEvents((l) => [...l, JSON.parse(m.data) as ProgressEvent]);
  });
  return <Timeline events={events} />;
}

function Timeline({ events }: { events: ProgressEvent[] }) {
  if (events.length === 0) return <p class="muted">No progress events yet.</p>;
  return (
    <ol class="timeline">
      {events.map((e) => (
        <li key={e.sequence} data-phase={e.phase}>
          <time dateTime={e.timestamp}>{new Date(e.timestamp).toLocaleTimeString()}</time>
          <span class="phase">{e.phase}</span>
          <span class="pct">{Math.round(e.progress_percent)}%</span>
          <span class="msg">{e.message}</span>
        </li>
      ))}
    </ol>
  );
}

function ResultView({ job, result }: { job: JobStatusDoc; result: ResultDoc }) {
  return (
    <>
      {result.error && <ErrorBox error={result.error} title={`Job ${result.status}`} />}
      {result.error?.phase && <p class="muted">Phase: {result.error.phase}</p>}
      <dl class="facts">
        <dt>Duration</dt>
        <dd>{duration(result.execution_summary?.duration_seconds)}</dd>
        <dt>Attempt</dt>
        <dd>{result.execution_summary?.attempt ?? '—'}</dd>
        {result.outputs?.primary && (
          <>
            <dt>Output file</dt>
            <dd class="mono">{result.outputs.primary}</dd>
          </>
        )}
      </dl>
      {job.status === 'completed' && REPORT_OPERATIONS.has(job.operation) && (
        <p>
          <a class="button" href={href.report(job.job_id)}>
            Open the {job.operation === 'guestkit.profile' ? 'profile' : 'inspection'} report
          </a>
        </p>
      )}
      {job.status === 'completed' && DOCTOR_OPERATIONS.has(job.operation) && (
        <p>
          <a class="button" href={href.doctor(job.job_id)}>
            Open the migration check
          </a>
        </p>
      )}
      {job.status === 'completed' && job.operation === 'guestkit.compare' && (
        <p>
          <a class="button" href={href.compare(job.job_id)}>
            Open the comparison
          </a>
        </p>
      )}
      {/* The job's image(s): a comparison names two, `baseline → target`. */}
      {job.image?.split(' → ').map((image) => (
        <p key={image}>
          <a class="button secondary" href={href.files(image)}>
            Browse the files of {image}
          </a>
        </p>
      ))}
      <details
        open={
          job.status !== 'completed' ||
          (!REPORT_OPERATIONS.has(job.operation) &&
            !DOCTOR_OPERATIONS.has(job.operation) &&
            job.operation !== 'guestkit.compare')
        }
      >
        <summary>Result document (JSON)</summary>
        <pre class="json" tabIndex={0} aria-label="Result document">
          {JSON.stringify(result, null, 2)}
        </pre>
      </details>
    </>
  );
}

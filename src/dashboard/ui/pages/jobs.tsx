// Jobs list: filters, progress bars (how it ended, once finished), image, error code, ages; kept
// live by the all-jobs event stream.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, type SseMessage } from '../api.js';
import { ErrorBox, ProgressBar, StatusBadge, TableWrap } from '../components/common.js';
import { BulkDelete } from '../components/bulk-delete.js';
import { MetricsPanel } from '../components/metrics.js';
import { age } from '../format.js';
import { useApi, useEventStream, useNow } from '../hooks.js';
import { href } from '../router.js';
import {
  STATUSES,
  TERMINAL,
  type JobStatusDoc,
  type ListPage,
  type ProgressEvent,
  type StatusChange,
} from '../types.js';

const PAGE = 50;

export function JobsPage() {
  const [status, setStatus] = useState('');
  const [operation, setOperation] = useState('');
  const [page, setPage] = useState<ListPage>();
  const [error, setError] = useState<ApiFailure>();
  const [announce, setAnnounce] = useState('');
  const [image, setImage] = useState('');
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const caps = useApi<{ operations: string[] }>('/api/v1/capabilities');
  const now = useNow();
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (status) query.set('status', status);
  if (operation) query.set('operation', operation);
  const path = `/api/v1/jobs?${query}`;

  // Always the list for the filters shown now: a refetch scheduled before a filter change, or a
  // response overtaken by a newer request, must not replace the newer list.
  const current = useRef(path);
  current.current = path;
  const load = useCallback(() => {
    const want = current.current;
    api<ListPage>(want).then(
      (p) => {
        if (current.current !== want) return;
        setPage(p);
        setError(undefined);
      },
      (e: ApiFailure) => {
        if (current.current === want) setError(e);
      },
    );
  }, []);
  useEffect(load, [path, load]);

  // New jobs and filter changes need the server's list; a burst of events costs one refetch.
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const refetchSoon = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(load, 300);
  }, [load]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const onEvent = (m: SseMessage) => {
    if (m.event === 'progress') {
      const e = JSON.parse(m.data) as ProgressEvent;
      setPage(
        (p) => p && { ...p, jobs: p.jobs.map((j) => (j.job_id === e.job_id ? withProgress(j, e) : j)) },
      );
    } else if (m.event === 'status') {
      const e = JSON.parse(m.data) as StatusChange;
      setPage(
        (p) => p && { ...p, jobs: p.jobs.map((j) => (j.job_id === e.job_id ? { ...j, status: e.to } : j)) },
      );
      if (TERMINAL.has(e.to)) setAnnounce(`Job ${e.job_id} ${e.to}`);
      refetchSoon();
    } else if (m.event === 'resync') refetchSoon();
  };
  const live = useEventStream('/api/v1/events', onEvent, { reconnect: true, onOpen: refetchSoon });

  const loadMore = () => {
    if (!page?.next_cursor) return;
    const want = path;
    api<ListPage>(`${path}&cursor=${encodeURIComponent(page.next_cursor)}`).then(
      (next) => {
        if (current.current === want) setPage((p) => p && { ...next, jobs: [...p.jobs, ...next.jobs] });
      },
      (e: ApiFailure) => setError(e),
    );
  };

  // The image filter narrows the loaded jobs (the API filters by status and operation).
  const needle = image.trim().toLowerCase();
  const shown = (page?.jobs ?? []).filter((j) => !needle || (j.image ?? '').toLowerCase().includes(needle));

  return (
    <>
      <h1>Jobs</h1>
      <MetricsPanel />
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter jobs">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Operation
          <select value={operation} onChange={(e) => setOperation(e.currentTarget.value)}>
            <option value="">all</option>
            {(caps.data?.operations ?? []).map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          Image
          <input
            type="search"
            value={image}
            placeholder="path or name contains…"
            onInput={(e) => setImage(e.currentTarget.value)}
          />
        </label>
        <span class={`live live-${live}`} title="Live updates">
          {live === 'live' ? '● live' : live === 'connecting' ? '○ connecting' : '○ offline'}
        </span>
      </form>
      <p class="sr-only" aria-live="polite">
        {announce}
      </p>
      {error && <ErrorBox error={error} title="Could not list jobs" />}
      {page && (
        <>
          <p class="muted">
            {page.total} job(s){status || operation ? ' matching the filters' : ''}
            {image && `; ${shown.length} of the ${page.jobs.length} loaded on ${JSON.stringify(image)}`}
          </p>
          <BulkDelete
            selected={[...selected]}
            onSelectAll={() =>
              setSelected(new Set(shown.filter((j) => TERMINAL.has(j.status)).map((j) => j.job_id)))
            }
            onDone={(deleted) => {
              setSelected(new Set());
              if (deleted.length > 0) setAnnounce(`${deleted.length} job(s) deleted`);
              load();
            }}
          />
          <TableWrap label="Jobs">
            <table class="jobs">
              <thead>
                <tr>
                  <th scope="col">
                    <span class="sr-only">Select</span>
                  </th>
                  <th scope="col">Job</th>
                  <th scope="col">Operation</th>
                  <th scope="col">Status</th>
                  <th scope="col">Progress</th>
                  <th scope="col">Image</th>
                  <th scope="col">Error</th>
                  <th scope="col">Age</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((j) => (
                  <JobRow
                    key={j.job_id}
                    job={j}
                    now={now}
                    selected={selected.has(j.job_id)}
                    onSelect={(on) =>
                      setSelected((old) => {
                        const next = new Set(old);
                        if (on) next.add(j.job_id);
                        else next.delete(j.job_id);
                        return next;
                      })
                    }
                  />
                ))}
              </tbody>
            </table>
          </TableWrap>
          {page.jobs.length === 0 && (
            <p>
              No jobs yet. <a href={href.submit()}>Submit one.</a>
            </p>
          )}
          {page.next_cursor && (
            <button type="button" onClick={loadMore}>
              Load more
            </button>
          )}
        </>
      )}
    </>
  );
}

function withProgress(j: JobStatusDoc, e: ProgressEvent): JobStatusDoc {
  return { ...j, progress: { phase: e.phase, percent: e.progress_percent, message: e.message } };
}

/** Live jobs show their progress; finished ones how they ended, not a frozen partial bar. */
function Progress({ job }: { job: JobStatusDoc }) {
  if (job.status === 'completed') return <ProgressBar percent={100} label={`Progress of ${job.job_id}`} />;
  if (TERMINAL.has(job.status)) {
    return (
      <span class={`small outcome-${job.status}`}>
        {job.progress ? `stopped in ${job.progress.phase}` : 'did not start'}
      </span>
    );
  }
  return (
    <div>
      <ProgressBar percent={job.progress?.percent ?? 0} label={`Progress of ${job.job_id}`} />
      {job.progress?.phase && <span class="small muted">{job.progress.phase}</span>}
    </div>
  );
}

/** The last path component is what tells images apart in a narrow column; the title has it all. */
const shortImage = (image: string) =>
  image
    .split(' → ')
    .map((p) => p.slice(p.lastIndexOf('/') + 1) || p)
    .join(' → ');

function JobRow(props: {
  job: JobStatusDoc;
  now: number;
  selected: boolean;
  onSelect: (on: boolean) => void;
}) {
  const { job, now } = props;
  return (
    <tr data-job-id={job.job_id} data-status={job.status}>
      <td data-label="Select">
        {TERMINAL.has(job.status) && (
          <input
            type="checkbox"
            aria-label={`Select ${job.job_id}`}
            checked={props.selected}
            onChange={(e) => props.onSelect(e.currentTarget.checked)}
          />
        )}
      </td>
      <td data-label="Job">
        <a href={href.job(job.job_id)} class="mono">
          {job.job_id}
        </a>
      </td>
      <td class="mono" data-label="Operation">
        {job.operation}
      </td>
      <td data-label="Status">
        <span>
          <StatusBadge status={job.status} />
        </span>
      </td>
      <td data-label="Progress">
        <Progress job={job} />
      </td>
      <td class="mono" data-label="Image" title={job.image}>
        {job.image ? shortImage(job.image) : '—'}
      </td>
      <td data-label="Error">
        {job.error ? (
          <span class="error-code" title={job.error.message}>
            {job.error.code}
          </span>
        ) : (
          '—'
        )}
      </td>
      <td title={job.submitted_at} data-label="Age">
        {age(job.submitted_at, now)}
      </td>
    </tr>
  );
}

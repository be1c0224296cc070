// The frame of a page showing a job's report (inspection, profile, comparison): loads the result,
// shows loading and errors, and puts a link back to the job above whatever it renders.
import type { ComponentChildren } from 'preact';
import { useApi } from '../hooks.js';
import { href } from '../router.js';
import type { ResultDoc } from '../types.js';
import { ErrorBox, Loading } from './common.js';

/** A report found in the result's data, or why the page has none. */
export type Picked<R> = { report: R } | { error: { code: string; message: string } };

export function JobReport<R>({
  id,
  what,
  missing,
  pick,
  children,
}: {
  id: string;
  /** "the report": shown while loading. */
  what: string;
  /** Title of the box when the result cannot be fetched. */
  missing: string;
  pick: (data: unknown) => Picked<R>;
  children: (report: R) => ComponentChildren;
}) {
  const res = useApi<{ data: ResultDoc }>(`/api/v1/jobs/${encodeURIComponent(id)}/result`);
  if (!res.error && !res.data) return <Loading what={what} />;
  const picked = res.data ? pick(res.data.data.data) : undefined;
  return (
    <>
      <p>
        <a href={href.job(id)}>← Job {id}</a>
      </p>
      {res.error ? (
        <ErrorBox error={res.error} title={missing} />
      ) : picked && 'error' in picked ? (
        <ErrorBox error={picked.error} />
      ) : (
        picked && children(picked.report)
      )}
    </>
  );
}

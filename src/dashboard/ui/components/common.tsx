// Small shared pieces: status badge, progress bar, error box, table wrapper, severity badge.
import type { ComponentChildren } from 'preact';
import type { ApiFailure } from '../api.js';
import type { Severity } from '../report-types.js';
import type { JobStatus } from '../types.js';

export function StatusBadge({ status }: { status: JobStatus }) {
  return <span class={`badge status-${status}`}>{status}</span>;
}

export function ProgressBar({ percent, label }: { percent: number; label: string }) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return (
    <div
      class="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={p}
    >
      <div class="progress-fill" style={{ width: `${p}%` }} />
      <span class="progress-text">{p}%</span>
    </div>
  );
}

export function ErrorBox({
  error,
  title,
}: {
  error: { code: string; message: string; status?: number } | ApiFailure;
  title?: string;
}) {
  return (
    <div class="error-box" role="alert">
      <strong>{title ?? 'Error'}</strong> <code class="error-code">{error.code}</code>
      <p>{error.message}</p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A horizontally scrollable table: keyboard users can focus and scroll it on narrow screens. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

export { SEVERITY_ORDER, type Severity } from '../report-types.js';

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <span class={`badge sev-${severity}`}>{severity}</span>;
}

export function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby={`${id}-h`} id={id}>
      <h2 id={`${id}-h`} tabIndex={-1}>
        {title}
      </h2>
      {children}
    </section>
  );
}

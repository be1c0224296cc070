// One renderer per operation for result documents, shared by `inspect`, `submit --wait`, `result`
// and `status`: a header (job, outcome, time, error with what to compare), then the operation's
// own view. Operations without a view of their own print their data as YAML, never as one line.
import { stringify } from 'yaml';
import type { InspectResultData } from '../../handlers/inspect/report.js';
import type { JobErrorInfo } from '../../protocol/errors.js';
import type { ResultDocument } from '../../protocol/schema.js';
import type { DoctorResult } from '../../handlers/doctor/index.js';
import type { RepairResultData } from '../../handlers/doctor/repair.js';
import type { ProfileResultData } from '../../handlers/profile/index.js';
import { renderDoctor, renderPlan, renderRepair } from './doctor.js';
import { renderInspect } from './inspect.js';
import { renderCompare, renderConvert, renderFix, renderProfile } from './reports.js';
import { Paint, rows, seconds, type RenderOptions } from './text.js';

export { colorWanted, type RenderOptions } from './text.js';
export { renderInspect, renderInspectReport } from './inspect.js';

type BodyRenderer = (data: unknown, o: RenderOptions) => string;

const BODIES: Record<string, BodyRenderer> = {
  'guestkit.inspect': (d, o) => renderInspect(d as InspectResultData, o),
  'guestkit.profile': (d, o) => renderProfile(d as ProfileResultData, o),
  'guestkit.compare': (d, o) => renderCompare(d as Parameters<typeof renderCompare>[0], o),
  'guestkit.convert': (d) => renderConvert(d as Parameters<typeof renderConvert>[0]),
  'guestkit.fix': (d, o) => renderFix(d as Parameters<typeof renderFix>[0], o),
  'guestkit.doctor': (d, o) => renderDoctor(d as DoctorResult, o.full),
  'guestkit.migrate-plan': (d) => renderPlan(d as Parameters<typeof renderPlan>[0]),
  'guestkit.repair': (d) => renderRepair(d as RepairResultData),
  'system.echo': (d) => `${stringify(d)}`,
};

/** Registers the view of an operation's result data (tests and library users may add theirs). */
export function registerRenderer(operation: string, render: BodyRenderer): void {
  BODIES[operation] = render;
}

/** Guesses the operation from the data's shape when the caller does not know it (`result`). */
export function operationOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const report = d.report as Record<string, unknown> | undefined;
  if (report && 'findings' in report) return 'guestkit.profile';
  if (report && 'baseline' in report) return 'guestkit.compare';
  if (report && 'operating_system' in report) return 'guestkit.inspect';
  if ('fix' in d && 'plan' in d) return 'guestkit.repair';
  if ('steps' in d && 'categories' in d) return 'guestkit.migrate-plan';
  if ('checks' in d && 'verdict' in d) return 'guestkit.doctor';
  if ('source' in d && 'target' in d && 'verification' in d) return 'guestkit.convert';
  if ('operations' in d && 'commit' in d) return 'guestkit.fix';
  if ('echo' in d) return 'system.echo';
  return undefined;
}

/** Error lines: code and message, then what the details say to compare (checksums…). */
export function renderError(
  e: JobErrorInfo | NonNullable<ResultDocument['error']>,
  p = new Paint(false),
): string {
  const lines = [`${p.level('error')}  ${p.bold(e.code)}: ${e.message}`];
  const d = e.details ?? {};
  if (typeof d.expected === 'string' && typeof d.actual === 'string') {
    lines.push(`       expected sha256:${d.expected}`, `       actual   sha256:${d.actual}`);
  }
  if (e.phase) lines.push(`       in phase ${e.phase}${e.retry_recommended ? '; retrying may help' : ''}`);
  return lines.join('\n');
}

/** The body of a result: the operation's view of `data`. */
export function renderData(operation: string | undefined, data: unknown, o: RenderOptions = {}): string {
  const op = operation ?? operationOf(data);
  const body = op ? BODIES[op] : undefined;
  if (body) return body(data, o);
  return data === undefined ? '' : stringify(data);
}

/** A whole result document as the terminal shows it. */
export function renderResult(result: ResultDocument, operation?: string, o: RenderOptions = {}): string {
  const p = new Paint(o.color ?? false);
  const head = rows([
    [
      'job',
      `${result.job_id}  ${p.level(result.status)} in ${seconds(result.execution_summary.duration_seconds)} (attempt ${result.execution_summary.attempt}, ${result.worker_id})`,
    ],
    ['output', result.outputs.primary],
  ]);
  const parts = [head];
  if (result.error) parts.push(renderError(result.error, p));
  if (result.status === 'completed' && result.data !== undefined)
    parts.push('', renderData(operation, result.data, o));
  return parts.join('\n').replace(/\n*$/, '\n');
}

// Terminal views of the migration checks: doctor (score, blockers first, fixes), migrate-plan
// (category scores and the ordered steps) and repair (before/after and the fix report).
import type { DoctorResult } from '../../handlers/doctor/index.js';
import type { MigrationPlan } from '../../handlers/doctor/plan.js';
import type { RepairResultData } from '../../handlers/doctor/repair.js';
import { renderFix } from './reports.js';

/** The human table: score and verdict, blockers first, then warnings, then the rest. */
export function renderDoctor(r: DoctorResult, explain = false): string {
  const lines = [
    `${r.target}: score ${r.score ?? '-'} (${r.verdict})  ${r.os.distribution} ${r.os.version} ${r.os.root}`,
    r.summary,
    '',
  ];
  const rank = (c: DoctorResult['checks'][number]) =>
    c.passed ? 3 : c.severity === 'blocker' ? 0 : c.severity === 'warning' ? 1 : 2;
  for (const c of [...r.checks].sort((a, b) => rank(a) - rank(b))) {
    const mark = c.passed
      ? 'ok     '
      : c.severity === 'blocker'
        ? 'BLOCKER'
        : c.severity === 'warning'
          ? 'WARN   '
          : 'info   ';
    lines.push(`${mark} ${c.id} ${c.category.padEnd(8)} ${c.name}: ${c.message}`);
    if (!c.passed && c.remediation) lines.push(`        fix: ${c.remediation}`);
    if (explain && !c.passed) lines.push(`        read: ${c.evidence.read.join(', ')}`);
  }
  if (r.root_cause?.primary) lines.push('', `root cause: ${r.root_cause.primary}`);
  return lines.join('\n') + '\n';
}

export function renderPlan(p: MigrationPlan & { export_path?: string }): string {
  const lines = [
    `${p.target}: score ${p.score ?? '-'} → ${p.predicted_score ?? '-'} after the automatic steps`,
    '',
  ];
  for (const [cat, v] of Object.entries(p.categories))
    lines.push(`${cat.padEnd(9)} ${String(v.score).padStart(3)}  ${v.failed} failed`);
  lines.push('');
  for (const s of p.steps)
    lines.push(
      `${s.id.padEnd(8)} ${s.operation ? s.operation.type.padEnd(22) : 'manual'.padEnd(22)} ${s.action}`,
    );
  if (p.export_path) lines.push('', `plan written to ${p.export_path}`);
  return lines.join('\n') + '\n';
}

/** guestkit.repair: the score before and after, then the plan or what the fix pipeline did. */
export function renderRepair(d: RepairResultData): string {
  const lines = [
    `${d.target}: score ${d.before_score ?? '-'} → ${d.after_score ?? '-'}${d.dry_run ? ' (dry run, predicted)' : ''}`,
    d.message,
    '',
  ];
  return lines.join('\n') + '\n' + (d.report ? renderFix(d.report) : renderPlan(d.plan));
}

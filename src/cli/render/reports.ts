// Terminal views of the result data of profile, compare, convert and fix.
import type { ComparisonReport, FieldChange } from '../../handlers/compare/types.js';
import type { ProfileResultData } from '../../handlers/profile/index.js';
import type { FixReport } from '../../handlers/fix/steps.js';
import { SEVERITY_ORDER } from '../../report/findings.js';
import { osLine } from './inspect.js';
import { bytes, columns, heading, Paint, rows, seconds, top, type RenderOptions } from './text.js';

/** guestkit.profile: counts by severity, then each finding with its remediation. */
export function renderProfile(d: ProfileResultData, o: RenderOptions = {}): string {
  const p = new Paint(o.color ?? false);
  const r = d.report;
  const out = [
    rows([
      ['image', r.image.path],
      ['os', r.operating_systems.map((os) => `${os.hostname || os.root}  ${osLine(os)}`).join('; ')],
      ['profiles', r.profiles.join(', ')],
      [
        'findings',
        `${r.summary.total_findings} (${SEVERITY_ORDER.map((s) => `${r.summary.by_severity[s]} ${s}`).join(', ')})`,
      ],
    ]),
  ];
  const sorted = [...r.findings].sort(
    (a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity),
  );
  const { shown, more } = top(sorted, 20, o.full);
  for (const f of shown) {
    out.push(
      '',
      `${p.level(f.severity.toUpperCase())}  ${p.bold(f.id)}  ${f.title}${f.root ? `  (${f.root})` : ''}`,
    );
    out.push(`  ${f.description}`);
    if (f.remediation) out.push(`  fix: ${f.remediation}`);
  }
  if (more) out.push('', p.dim(more));
  if (r.warnings.length) out.push(heading(p, 'Warnings'), ...r.warnings.map((w) => `  ${w}`));
  if (d.output_file) out.push('', `report written to ${d.output_file}`);
  return out.join('\n') + '\n';
}

const show = (v: unknown) =>
  v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
const changes = (list: FieldChange[]) => list.map((c) => `  ${c.field}: ${show(c.from)} → ${show(c.to)}`);

/** guestkit.compare: what differs between baseline and target, section by section. */
export function renderCompare(
  d: { report: ComparisonReport; output_file?: string | null },
  o: RenderOptions = {},
): string {
  const p = new Paint(o.color ?? false);
  const r = d.report;
  const s = r.summary;
  const out = [
    rows([
      ['baseline', `${r.baseline.image.path}  ${osLine(r.baseline.operating_system)}`],
      ['target', `${r.target.image.path}  ${osLine(r.target.operating_system)}`],
      ['result', s.identical ? 'identical' : `${s.total_differences} differences`],
    ]),
  ];
  if (r.operating_system.length) out.push(heading(p, 'Operating system'), ...changes(r.operating_system));
  if (r.packages) {
    const k = r.packages;
    out.push(
      heading(
        p,
        `Packages: ${k.added.length} added, ${k.removed.length} removed, ${k.changed.length} changed, ${k.unchanged} unchanged`,
      ),
    );
    const lines = [
      ...k.added.map((x) => `  + ${x.name} ${x.version}`),
      ...k.removed.map((x) => `  - ${x.name} ${x.version}`),
      ...k.changed.map((x) => `  ~ ${x.name} ${x.from} → ${x.to} (${x.direction})`),
    ];
    const { shown, more } = top(lines, 15, o.full);
    out.push(...shown);
    if (more) out.push(`  ${p.dim(more)}`);
  }
  const sv = r.services;
  if (sv.added.length + sv.removed.length + sv.enabled.length + sv.disabled.length) {
    out.push(heading(p, 'Services'));
    if (sv.added.length) out.push(`  added: ${sv.added.join(', ')}`);
    if (sv.removed.length) out.push(`  removed: ${sv.removed.join(', ')}`);
    if (sv.enabled.length) out.push(`  now enabled: ${sv.enabled.join(', ')}`);
    if (sv.disabled.length) out.push(`  now disabled: ${sv.disabled.join(', ')}`);
  }
  const u = r.users;
  if (u.added.length + u.removed.length + u.changed.length) {
    out.push(heading(p, 'Users'));
    out.push(...u.added.map((x) => `  + ${x.name} (uid ${x.uid}, ${x.shell})`));
    out.push(...u.removed.map((x) => `  - ${x.name} (uid ${x.uid})`));
    for (const c of u.changed)
      out.push(
        `  ~ ${c.name}: ${c.changes.map((x) => `${x.field} ${show(x.from)} → ${show(x.to)}`).join(', ')}`,
      );
  }
  if (r.kernels.added.length || r.kernels.removed.length)
    out.push(
      heading(p, 'Kernels'),
      ...r.kernels.added.map((k) => `  + ${k}`),
      ...r.kernels.removed.map((k) => `  - ${k}`),
    );
  if (r.network.length) out.push(heading(p, 'Network'), ...changes(r.network));
  if (r.security.length) out.push(heading(p, 'Security'), ...changes(r.security));
  const cf = r.config_files;
  if (cf && cf.added.length + cf.removed.length + cf.changed.length) {
    out.push(heading(p, `Files under ${cf.root}`));
    out.push(...cf.added.map((f) => `  + ${f}`), ...cf.removed.map((f) => `  - ${f}`));
    out.push(...cf.changed.map((f) => `  ~ ${f.path}`));
    if (o.full) for (const f of cf.changed) if (f.diff) out.push('', f.diff);
  }
  if (r.recommendations?.length) {
    out.push(heading(p, 'Recommendations'));
    for (const x of r.recommendations) out.push(`  ${p.level(x.severity)}  ${x.message}`);
  }
  if (d.output_file) out.push('', `report written to ${d.output_file}`);
  return out.join('\n') + '\n';
}

interface ConvertData {
  source: {
    path: string;
    format: string;
    virtual_size_bytes: number;
    allocated_size_bytes: number;
    checksum_verified: boolean;
  };
  target: {
    path: string;
    format: string;
    compression: boolean;
    compression_type: string | null;
    virtual_size_bytes: number;
    allocated_size_bytes: number;
  };
  verification: { performed: boolean; identical: boolean | null; message: string };
  duration_seconds: number;
}

/** guestkit.convert: from what to what, sizes, whether the content was verified identical. */
export function renderConvert(d: ConvertData): string {
  const ratio = d.source.allocated_size_bytes
    ? d.target.allocated_size_bytes / d.source.allocated_size_bytes
    : 0;
  return (
    rows([
      [
        'source',
        `${d.source.path} (${d.source.format}, ${bytes(d.source.allocated_size_bytes)} on disk${d.source.checksum_verified ? ', checksum verified' : ''})`,
      ],
      [
        'target',
        `${d.target.path} (${d.target.format}${d.target.compression ? `, ${d.target.compression_type ?? 'compressed'}` : ''}, ${bytes(d.target.allocated_size_bytes)} on disk)`,
      ],
      [
        'size',
        `${bytes(d.target.virtual_size_bytes)} virtual; on disk ${(ratio * 100).toFixed(0)}% of the source`,
      ],
      [
        'verification',
        d.verification.performed
          ? d.verification.identical
            ? 'guest content identical'
            : d.verification.message
          : 'not performed',
      ],
      ['took', seconds(d.duration_seconds)],
    ]) + '\n'
  );
}

/** guestkit.fix: each operation and whether it changed something, the validation, the commit. */
export function renderFix(d: FixReport & { output_file?: string | null }, o: RenderOptions = {}): string {
  const p = new Paint(o.color ?? false);
  const out = [
    rows([
      ['image', `${d.image.path} (${d.image.format})`],
      ['os', d.os ? `${d.os.hostname || d.os.root}  ${d.os.distro} ${d.os.arch}` : undefined],
      ['status', `${p.level(d.status === 'success' ? 'completed' : d.status)}: ${d.message}`],
    ]),
    heading(p, 'Operations'),
    columns(
      ['TYPE', 'STATUS', 'CHANGED', 'MESSAGE'],
      d.operations.map((x) => [x.type, x.status, x.changed ? 'yes' : 'no', x.message]),
      '  ',
    ),
    heading(p, 'Result'),
    rows(
      [
        [
          'validation',
          d.validation.performed
            ? `${d.validation.passed ? 'passed' : 'FAILED'}: ${d.validation.message}`
            : d.validation.message,
        ],
        [
          'commit',
          d.commit.mode === 'none'
            ? 'nothing written'
            : `${d.commit.mode} → ${d.commit.target ?? d.image.path}`,
        ],
        ['backup', d.commit.backup ? `${d.commit.backup.path} (${bytes(d.commit.backup.bytes)})` : undefined],
        ['log', d.output_file ?? undefined],
        ['took', seconds(d.duration_seconds)],
      ],
      '  ',
    ),
  ];
  return out.join('\n') + '\n';
}

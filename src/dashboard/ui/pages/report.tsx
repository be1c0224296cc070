// Inspection report of a guestkit.inspect job (and the findings of a guestkit.profile job):
// OS card, security findings by severity, packages with search, services, users, network, storage;
// on a disk with several operating systems, a picker shows each root's own sections.
import { useState } from 'preact/hooks';
import { osVersion } from '../../../report/os-version.js';
import { Section, SEVERITY_ORDER, SeverityBadge } from '../components/common.js';
import { JobReport } from '../components/job-report.js';
import { InspectSections } from '../components/inspect-sections.js';
import { securityFindings } from '../../../report/findings.js';
import { bytes, show } from '../format.js';
import type { Finding, InspectReport, OsInfo, ProfileReport, RootView } from '../report-types.js';

export function ReportPage({ id }: { id: string }) {
  return (
    <JobReport<InspectReport | ProfileReport>
      id={id}
      what="the report"
      missing="No report"
      pick={(data) => {
        const report = (data as { report?: InspectReport | ProfileReport } | undefined)?.report;
        return report
          ? { report }
          : { error: { code: 'NO_REPORT', message: `Job ${id} has no report in its result` } };
      }}
    >
      {(report) => ('findings' in report ? <ProfileView report={report} /> : <InspectView report={report} />)}
    </JobReport>
  );
}

function OsCard({ os, title = 'Operating system' }: { os: OsInfo; title?: string }) {
  return (
    <Section id="os" title={title}>
      <dl class="facts">
        <dt>Distribution</dt>
        <dd>
          {os.distribution} {osVersion(os)}
        </dd>
        <dt>Product</dt>
        <dd>{show(os.product_name)}</dd>
        <dt>Hostname</dt>
        <dd>{show(os.hostname)}</dd>
        <dt>Architecture</dt>
        <dd>{show(os.arch)}</dd>
        <dt>Packages</dt>
        <dd>{show(os.package_format)}</dd>
        <dt>Root</dt>
        <dd class="mono">{show(os.root)}</dd>
      </dl>
    </Section>
  );
}

function Findings({ findings }: { findings: Finding[] }) {
  const sorted = [...findings].sort(
    (a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity),
  );
  return (
    <ul class="findings">
      {sorted.map((f) => (
        <li key={f.id} class={`finding sev-border-${f.severity}`} data-severity={f.severity}>
          <SeverityBadge severity={f.severity} /> <strong>{f.title}</strong>
          {f.profile && (
            <span class="muted small">
              {' '}
              · {f.profile} · {f.id}
            </span>
          )}
          <p>{f.description}</p>
          {f.remediation && <p class="small">Fix: {f.remediation}</p>}
        </li>
      ))}
    </ul>
  );
}

const SECTIONS = [
  ['security', 'Security'],
  ['packages', 'Packages'],
  ['services', 'Services'],
  ['users', 'Users'],
  ['network', 'Network'],
  ['storage', 'Storage'],
];

function InspectView({ report: r }: { report: InspectReport }) {
  // A multi-OS disk: every root with its own sections (roots[0] is what the top level describes).
  const roots: RootView[] = r.roots && r.roots.length > 1 ? r.roots : [r];
  const [shown, setShown] = useState(0);
  const root = roots[Math.min(shown, roots.length - 1)];
  return (
    <>
      <h1>Inspection report</h1>
      <p class="mono small">
        {r.image.path} · {r.image.format} · {bytes(r.image.virtual_size_bytes)}
      </p>
      {roots.length > 1 && (
        <RootPicker roots={roots.map((x) => x.operating_system)} shown={shown} onPick={setShown} />
      )}
      <nav class="toc" aria-label="Report sections">
        {SECTIONS.map(([id, title]) => (
          <a
            key={id}
            href={`#${id}`}
            onClick={(e) => {
              e.preventDefault();
              document.getElementById(id)?.scrollIntoView();
              document.getElementById(`${id}-h`)?.focus();
            }}
          >
            {title}
          </a>
        ))}
      </nav>
      {/* Keyed by root: a search typed for one OS's packages does not carry over to the next. */}
      <RootSections key={root.operating_system.root} root={root} multi={roots.length > 1} />
    </>
  );
}

/** One toggle button per operating system found on the disk. */
function RootPicker({
  roots,
  shown,
  onPick,
}: {
  roots: OsInfo[];
  shown: number;
  onPick: (i: number) => void;
}) {
  return (
    <div class="root-picker" role="group" aria-label="Operating systems on this disk">
      <span class="small muted">{roots.length} operating systems on this disk:</span>
      {roots.map((os, i) => (
        <button
          key={os.root}
          type="button"
          class={i === shown ? '' : 'secondary'}
          aria-pressed={i === shown}
          data-root={os.root}
          onClick={() => onPick(i)}
        >
          {os.distribution} {osVersion(os)} <span class="mono">{os.root}</span>
        </button>
      ))}
    </div>
  );
}

function RootSections({ root, multi }: { root: RootView; multi: boolean }) {
  return (
    <div class="root-view" data-root={root.operating_system.root}>
      <div class="grid2">
        <OsCard
          os={root.operating_system}
          title={multi ? `Operating system ${root.operating_system.root}` : 'Operating system'}
        />
        <Section id="security" title="Security findings">
          <Findings findings={securityFindings(root)} />
          <p class="small muted">Quick checks on the report's facts; guestkit.profile runs the full rules.</p>
        </Section>
      </div>
      <InspectSections report={root} />
      {root.warnings && root.warnings.length > 0 && (
        <Section id="warnings" title="Warnings">
          <ul>
            {root.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Section>
      )}
    </div>
  );
}

function ProfileView({ report }: { report: ProfileReport }) {
  return (
    <>
      <h1>Profile report</h1>
      <p class="mono small">
        {report.image.path} · profiles: {report.profiles.join(', ')}
      </p>
      {report.operating_systems.map((os) => (
        <OsCard key={os.root} os={os} title={`Operating system ${os.root}`} />
      ))}
      <Section id="security" title={`Findings (${report.summary.total_findings})`}>
        <p>
          {SEVERITY_ORDER.map((s) => (
            <span key={s} class="count">
              <SeverityBadge severity={s} /> {report.summary.by_severity[s] ?? 0}{' '}
            </span>
          ))}
        </p>
        <Findings findings={report.findings} />
      </Section>
    </>
  );
}

// Inspection report of a guestkit.inspect job (and the findings of a guestkit.profile job):
// OS card, security findings by severity, packages with search, services, users, network, storage.
import { useMemo, useState } from 'preact/hooks';
import {
  ErrorBox,
  Loading,
  Section,
  SEVERITY_ORDER,
  SeverityBadge,
  TableWrap,
} from '../components/common.js';
import { securityFindings } from '../findings.js';
import { bytes, show } from '../format.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';
import type { Finding, InspectReport, OsInfo, ProfileReport } from '../report-types.js';
import type { ResultDoc } from '../types.js';

const MAX_ROWS = 500;

export function ReportPage({ id }: { id: string }) {
  const res = useApi<{ data: ResultDoc }>(`/api/v1/jobs/${encodeURIComponent(id)}/result`);
  const back = (
    <p>
      <a href={href.job(id)}>← Job {id}</a>
    </p>
  );
  if (res.error)
    return (
      <>
        {back}
        <ErrorBox error={res.error} title="No report" />
      </>
    );
  if (!res.data) return <Loading what="the report" />;
  const data = res.data.data.data as { report?: InspectReport | ProfileReport } | undefined;
  const report = data?.report;
  if (!report) {
    return (
      <>
        {back}
        <ErrorBox error={{ code: 'NO_REPORT', message: `Job ${id} has no report in its result` }} />
      </>
    );
  }
  if ('findings' in report)
    return (
      <>
        {back}
        <ProfileView report={report} />
      </>
    );
  return (
    <>
      {back}
      <InspectView report={report} />
    </>
  );
}

function OsCard({ os, title = 'Operating system' }: { os: OsInfo; title?: string }) {
  return (
    <Section id="os" title={title}>
      <dl class="facts">
        <dt>Distribution</dt>
        <dd>
          {os.distribution} {os.version}
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

function InspectView({ report: r }: { report: InspectReport }) {
  const sections = [
    ['security', 'Security'],
    ['packages', 'Packages'],
    ['services', 'Services'],
    ['users', 'Users'],
    ['network', 'Network'],
    ['storage', 'Storage'],
  ];
  return (
    <>
      <h1>Inspection report</h1>
      <p class="mono small">
        {r.image.path} · {r.image.format} · {bytes(r.image.virtual_size_bytes)}
      </p>
      <nav class="toc" aria-label="Report sections">
        {sections.map(([id, title]) => (
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
      <div class="grid2">
        <OsCard os={r.operating_system} />
        <Section id="security" title="Security findings">
          <Findings findings={securityFindings(r)} />
          <p class="small muted">Quick checks on the report's facts; guestkit.profile runs the full rules.</p>
        </Section>
      </div>
      {r.packages && <PackagesTable packages={r.packages} />}
      {r.services && (
        <Section
          id="services"
          title={`Services (${r.services.enabled.length} enabled of ${r.services.count})`}
        >
          <TableWrap label="Services">
            <table>
              <thead>
                <tr>
                  <th scope="col">Unit</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Enabled</th>
                  <th scope="col">Wanted by</th>
                </tr>
              </thead>
              <tbody>
                {r.services.units.map((u) => (
                  <tr key={`${u.kind}:${u.name}`}>
                    <td class="mono">{u.name}</td>
                    <td>
                      {u.kind} {u.type}
                    </td>
                    <td>{u.enabled ? 'yes' : 'no'}</td>
                    <td>{show(u.wanted_by)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      {r.users && (
        <Section id="users" title={`Users (${r.users.login_count} can log in, ${r.users.count} total)`}>
          <TableWrap label="Users">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">UID</th>
                  <th scope="col">Shell</th>
                  <th scope="col">Login</th>
                  <th scope="col">System</th>
                </tr>
              </thead>
              <tbody>
                {r.users.accounts.map((a) => (
                  <tr key={a.name}>
                    <td class="mono">{a.name}</td>
                    <td>{a.uid}</td>
                    <td class="mono">{a.shell}</td>
                    <td>{a.login ? 'yes' : 'no'}</td>
                    <td>{a.system ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      {r.network && (
        <Section id="network" title="Network">
          <dl class="facts">
            <dt>Hostname</dt>
            <dd>{show(r.network.hostname)}</dd>
            <dt>Gateway</dt>
            <dd>{show(r.network.gateway)}</dd>
            <dt>DNS</dt>
            <dd>{show(r.network.dns_servers)}</dd>
          </dl>
          <TableWrap label="Interfaces">
            <table>
              <thead>
                <tr>
                  <th scope="col">Interface</th>
                  <th scope="col">Source</th>
                  <th scope="col">Addresses</th>
                  <th scope="col">DHCP</th>
                </tr>
              </thead>
              <tbody>
                {r.network.interfaces.map((i) => (
                  <tr key={i.name + i.config_source}>
                    <td class="mono">{i.name}</td>
                    <td>{i.config_source}</td>
                    <td class="mono">{show(i.addresses)}</td>
                    <td>{i.dhcp ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      <Section id="storage" title="Storage">
        <TableWrap label="Filesystems">
          <table>
            <caption>Filesystems</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Type</th>
                <th scope="col">Mounted at</th>
                <th scope="col">Size</th>
                <th scope="col">UUID</th>
              </tr>
            </thead>
            <tbody>
              {r.filesystems.map((f) => (
                <tr key={f.device}>
                  <td class="mono">{f.device}</td>
                  <td>{f.type}</td>
                  <td class="mono">
                    {show(Object.entries(r.mountpoints).find(([, d]) => d === f.device)?.[0])}
                  </td>
                  <td>{bytes(f.size_bytes)}</td>
                  <td class="mono small">{show(f.uuid)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
        {r.storage && (
          <>
            <h3>LVM</h3>
            <dl class="facts">
              <dt>Physical volumes</dt>
              <dd class="mono">{show(r.storage.lvm.pvs)}</dd>
              <dt>Volume groups</dt>
              <dd class="mono">{show(r.storage.lvm.vgs)}</dd>
              <dt>Logical volumes</dt>
              <dd class="mono">{show(r.storage.lvm.lvs)}</dd>
            </dl>
            <TableWrap label="fstab">
              <table>
                <caption>/etc/fstab</caption>
                <thead>
                  <tr>
                    <th scope="col">Spec</th>
                    <th scope="col">Mount point</th>
                    <th scope="col">Type</th>
                    <th scope="col">Options</th>
                  </tr>
                </thead>
                <tbody>
                  {r.storage.fstab.map((f) => (
                    <tr key={f.spec + f.mountpoint}>
                      <td class="mono small">{f.spec}</td>
                      <td class="mono">{f.mountpoint}</td>
                      <td>{f.type}</td>
                      <td class="mono small">{f.options}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </>
        )}
      </Section>
      {r.warnings && r.warnings.length > 0 && (
        <Section id="warnings" title="Warnings">
          <ul>
            {r.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}

function PackagesTable({ packages }: { packages: NonNullable<InspectReport['packages']> }) {
  const [q, setQ] = useState('');
  const filtered = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return needle
      ? packages.packages.filter(
          (p) => p.name.toLowerCase().includes(needle) || p.summary.toLowerCase().includes(needle),
        )
      : packages.packages;
  }, [q, packages]);
  return (
    <Section id="packages" title={`Packages (${packages.count}, ${packages.manager})`}>
      <label class="search">
        Search packages
        <input
          type="search"
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
          placeholder="name or summary"
        />
      </label>
      <p class="small muted" aria-live="polite">
        {filtered.length} of {packages.count} shown
        {filtered.length > MAX_ROWS ? ` (first ${MAX_ROWS}; refine the search)` : ''}
      </p>
      <TableWrap label="Packages">
        <table class="packages">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Version</th>
              <th scope="col">Arch</th>
              <th scope="col">Summary</th>
            </tr>
          </thead>
          <tbody>
            {filtered.slice(0, MAX_ROWS).map((p) => (
              <tr key={`${p.name}:${p.arch}`} data-package={p.name}>
                <td class="mono">{p.name}</td>
                <td class="mono">
                  {p.epoch ? `${p.epoch}:` : ''}
                  {p.version}
                  {p.release ? `-${p.release}` : ''}
                </td>
                <td>{p.arch}</td>
                <td>{p.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </Section>
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

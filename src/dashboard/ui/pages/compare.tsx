// Comparison of two disks (guestkit.compare): baseline and target side by side, then every
// difference: OS fields, packages, services, users, kernels, network/security, /etc files.
import { osVersion } from '../../../report/os-version.js';
import type { ComponentChildren } from 'preact';
import { Section, SeverityBadge, TableWrap } from '../components/common.js';
import { JobReport } from '../components/job-report.js';
import { show } from '../format.js';
import type { ComparisonReport, FieldChange, OsInfo } from '../report-types.js';

export function ComparePage({ id }: { id: string }) {
  return (
    <JobReport<ComparisonReport>
      id={id}
      what="the comparison"
      missing="No comparison"
      pick={(data) => {
        const report = (data as { report?: ComparisonReport } | undefined)?.report;
        return report && 'baseline' in report
          ? { report }
          : {
              error: {
                code: 'NOT_A_COMPARISON',
                message: `Job ${id} is not a guestkit.compare job with a report`,
              },
            };
      }}
    >
      {(report) => <CompareView r={report} />}
    </JobReport>
  );
}

function Side({ label, image, os }: { label: string; image: { path: string; format: string }; os: OsInfo }) {
  return (
    <div class="card side" data-side={label.toLowerCase()}>
      <h2>{label}</h2>
      <p class="mono small">
        {image.path} ({image.format})
      </p>
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
      </dl>
    </div>
  );
}

function Changes({ label, changes }: { label: string; changes: FieldChange[] }) {
  if (changes.length === 0) return <p class="muted">No {label.toLowerCase()} differences.</p>;
  return (
    <TableWrap label={label}>
      <table class="side-by-side">
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Baseline</th>
            <th scope="col">Target</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((c) => (
            <tr key={c.field}>
              <td class="mono">{c.field}</td>
              <td class="del">{show(c.from)}</td>
              <td class="add">{show(c.to)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function TwoLists({
  left,
  right,
  leftLabel,
  rightLabel,
}: {
  left: ComponentChildren[];
  right: ComponentChildren[];
  leftLabel: string;
  rightLabel: string;
}) {
  return (
    <div class="grid2">
      <div>
        <h3>
          {leftLabel} ({left.length})
        </h3>
        {left.length ? (
          <ul class="del-list">
            {left.map((x, i) => (
              <li key={i}>{x}</li>
            ))}
          </ul>
        ) : (
          <p class="muted">none</p>
        )}
      </div>
      <div>
        <h3>
          {rightLabel} ({right.length})
        </h3>
        {right.length ? (
          <ul class="add-list">
            {right.map((x, i) => (
              <li key={i}>{x}</li>
            ))}
          </ul>
        ) : (
          <p class="muted">none</p>
        )}
      </div>
    </div>
  );
}

function CompareView({ r }: { r: ComparisonReport }) {
  return (
    <>
      <h1>Comparison</h1>
      <p>
        {r.summary.identical
          ? 'The disks are identical in every compared aspect.'
          : `${r.summary.total_differences} difference(s).`}
      </p>
      <div class="grid2">
        <Side label="Baseline" image={r.baseline.image} os={r.baseline.operating_system} />
        <Side label="Target" image={r.target.image} os={r.target.operating_system} />
      </div>
      <Section id="os-diff" title="Operating system">
        <Changes label="Operating system" changes={r.operating_system} />
      </Section>
      {r.packages && (
        <Section id="packages" title="Packages">
          <TwoLists
            leftLabel="Only in baseline (removed)"
            rightLabel="Only in target (added)"
            left={r.packages.removed.map((p) => (
              <span class="mono" data-package={p.name}>
                {p.name} {p.version}
              </span>
            ))}
            right={r.packages.added.map((p) => (
              <span class="mono" data-package={p.name}>
                {p.name} {p.version}
              </span>
            ))}
          />
          <h3>
            Changed ({r.packages.changed.length}; {r.packages.unchanged} unchanged)
          </h3>
          {r.packages.changed.length > 0 && (
            <TableWrap label="Changed packages">
              <table class="side-by-side">
                <thead>
                  <tr>
                    <th scope="col">Package</th>
                    <th scope="col">Baseline</th>
                    <th scope="col">Target</th>
                    <th scope="col">Direction</th>
                  </tr>
                </thead>
                <tbody>
                  {r.packages.changed.map((c) => (
                    <tr key={c.name + c.arch} data-package={c.name}>
                      <td class="mono">{c.name}</td>
                      <td class="mono del">{c.from}</td>
                      <td class="mono add">{c.to}</td>
                      <td>{c.direction}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
        </Section>
      )}
      <Section id="services" title="Services">
        <TwoLists leftLabel="Removed" rightLabel="Added" left={r.services.removed} right={r.services.added} />
        <TwoLists
          leftLabel="Disabled"
          rightLabel="Enabled"
          left={r.services.disabled}
          right={r.services.enabled}
        />
      </Section>
      <Section id="users" title="Users">
        <TwoLists
          leftLabel="Removed"
          rightLabel="Added"
          left={r.users.removed.map((u) => `${u.name} (uid ${u.uid})`)}
          right={r.users.added.map((u) => `${u.name} (uid ${u.uid})`)}
        />
        {r.users.changed.map((u) => (
          <Changes key={u.name} label={`User ${u.name}`} changes={u.changes} />
        ))}
      </Section>
      <Section id="kernels" title="Kernels">
        <TwoLists leftLabel="Removed" rightLabel="Added" left={r.kernels.removed} right={r.kernels.added} />
      </Section>
      <Section id="net-sec" title="Network and security">
        <Changes label="Network" changes={r.network} />
        <Changes label="Security" changes={r.security} />
      </Section>
      {r.config_files && (
        <Section id="config" title={`Files under ${r.config_files.root}`}>
          <TwoLists
            leftLabel="Removed"
            rightLabel="Added"
            left={r.config_files.removed}
            right={r.config_files.added}
          />
          <h3>Changed ({r.config_files.changed.length})</h3>
          {r.config_files.changed.map((c) => (
            <details key={c.path}>
              <summary class="mono">{c.path}</summary>
              {c.diff ? (
                <pre class="diff" tabIndex={0} aria-label={`Diff of ${c.path}`}>
                  {c.diff}
                </pre>
              ) : (
                <p class="muted">No diff ({c.diff_omitted ?? 'not available'})</p>
              )}
            </details>
          ))}
        </Section>
      )}
      {r.recommendations && r.recommendations.length > 0 && (
        <Section id="recommendations" title="Recommendations">
          <ul class="findings">
            {r.recommendations.map((x, i) => (
              <li key={i} class={`finding sev-border-${x.severity}`} data-severity={x.severity}>
                <SeverityBadge severity={x.severity} /> <span class="muted small">{x.category}</span>{' '}
                {x.message}
              </li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}

// Workers and their capabilities, with the health checks and the metrics panel.
import { Fragment } from 'preact';
import { ErrorBox, Loading, Section, TableWrap } from '../components/common.js';
import { MetricsPanel } from '../components/metrics.js';
import { age, show } from '../format.js';
import { useApi, useNow } from '../hooks.js';
import type { Health, Registration } from '../types.js';

function Chips({ label, items, mono }: { label: string; items: string[]; mono?: boolean }) {
  if (items.length === 0) return <p class="muted">none reported</p>;
  return (
    <ul class="chips" aria-label={label}>
      {items.map((o) => (
        <li key={o} class={mono ? 'mono' : undefined}>
          {o}
        </li>
      ))}
    </ul>
  );
}

export function WorkersPage() {
  const workers = useApi<{ workers: Registration[]; total: number }>('/api/v1/workers', 10_000);
  const health = useApi<Health>('/api/v1/health', 10_000);
  const now = useNow();
  return (
    <>
      <h1>Workers</h1>
      <MetricsPanel />
      {health.data && (
        <Section id="health" title={`Health: ${health.data.status}`}>
          <TableWrap label="Health checks">
            <table>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Status</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(health.data.checks).map(([name, c]) => (
                  <tr key={name}>
                    <td>{name}</td>
                    <td>
                      <span class={`badge check-${c.status}`}>{c.status}</span>
                    </td>
                    <td>
                      {show(c.message)}
                      {c.latency_ms !== undefined ? ` (${c.latency_ms} ms)` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      {workers.error && <ErrorBox error={workers.error} title="Could not list workers" />}
      {!workers.data && !workers.error && <Loading what="workers" />}
      {workers.data?.workers.map((w) => (
        <section
          class="card worker"
          key={w.worker_id}
          aria-labelledby={`w-${w.worker_id}`}
          data-worker={w.worker_id}
        >
          <h2 id={`w-${w.worker_id}`} class="mono">
            {w.worker_id}
          </h2>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              {w.status?.state ?? '—'} ({w.status?.current_jobs ?? 0} job(s))
            </dd>
            <dt>Last heartbeat</dt>
            <dd>{age(w.status?.last_heartbeat, now)}</dd>
            <dt>Host</dt>
            <dd>{show(w.hostname)}</dd>
            <dt>Version</dt>
            <dd>{w.version}</dd>
            <dt>Pool</dt>
            <dd>{show(w.configuration?.worker_pool)}</dd>
            {Object.entries(w.resources ?? {}).map(([k, v]) => (
              <Fragment key={k}>
                <dt>{k.replace(/_/g, ' ')}</dt>
                <dd>{show(v)}</dd>
              </Fragment>
            ))}
          </dl>
          <h3>Operations</h3>
          <Chips label="Operations" items={w.capabilities.operations} mono />
          <h3>Disk formats</h3>
          <Chips label="Disk formats" items={w.capabilities.disk_formats} />
          <h3>Features</h3>
          <Chips label="Features" items={w.capabilities.features} />
        </section>
      ))}
    </>
  );
}

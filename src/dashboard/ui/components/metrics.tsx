// The metrics panel: jobs/min and failures over the stats window, running/queued jobs, appliances.
import { useApi } from '../hooks.js';
import type { Stats } from '../types.js';

export function MetricsPanel() {
  const { data } = useApi<Stats>('/api/v1/stats', 5000);
  const minutes = data ? Math.round(data.window_seconds / 60) : 10;
  const tiles: [string, string, string][] = data
    ? [
        ['jobs-per-minute', 'Jobs/min', `${data.jobs_per_minute}`],
        ['failures', `Failures (${minutes} min)`, `${data.failed_in_window}`],
        ['failed-total', 'Failed (all)', `${(data.counts.failed ?? 0) + (data.counts.timeout ?? 0)}`],
        ['running', 'Running', `${data.active_jobs}`],
        ['queued', 'Queued', `${data.queue_depth}`],
        ['appliances', 'Active appliances', `${data.appliances.active}`],
      ]
    : [];
  return (
    <section class="metrics" aria-label="Metrics">
      <dl>
        {tiles.map(([key, label, value]) => (
          <div class="tile" key={key} data-metric={key}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {data && (
        <p class="muted small">
          {data.finished_in_window} job(s) finished in the last {minutes} min · {data.appliances.launches}{' '}
          appliance launch(es) · {data.appliances.reserved} drive(s) reserved
        </p>
      )}
    </section>
  );
}

// The Grafana dashboard and the alert rules may only reference metrics the worker registers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics, METRIC_NAMES } from '../../src/metrics/index.js';
import { createWorker } from '../../src/worker/worker.js';

const DIR = join(import.meta.dirname, '../../src/metrics');

/** Every guestkit_* series name in a PromQL expression, histogram suffixes folded to the family. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bguestkit_[a-z_]+/g)].map((m) =>
    m[0].replace(/_seconds_(bucket|sum|count)$/, '_seconds'),
  );
}

function registered(): Set<string> {
  const worker = createWorker({ store: 'memory' });
  const m = createWorkerMetrics(worker);
  const names = new Set(m.registry.getMetricsAsArray().map((x) => x.name));
  m.close();
  return names;
}

describe('metric names in dashboards and alerts', () => {
  const names = registered();

  it('registers exactly the metrics of the spec', () => {
    expect([...names].sort()).toEqual([...METRIC_NAMES].sort());
  });

  it('the Grafana dashboard queries only registered metrics, and all of them', () => {
    const dash = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
      templating: { list: { query?: unknown }[] };
    };
    const exprs = [
      ...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dash.templating.list.map((t) => (typeof t.query === 'string' ? t.query : '')),
    ];
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(0);
    for (const n of used) expect(names, `dashboard uses ${n}`).toContain(n);
    for (const n of METRIC_NAMES) expect(used, `dashboard shows ${n}`).toContain(n);
  });

  it('the alert rules are valid YAML referencing only registered metrics', () => {
    const doc = parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'GuestkitJobFailureRateHigh',
        'GuestkitWorkerStalled',
        'GuestkitChecksumFailures',
      ]),
    );
    for (const r of rules) {
      const used = metricNames(r.expr);
      expect(used.length, `${r.alert} references a metric`).toBeGreaterThan(0);
      for (const n of used) expect(names, `${r.alert} uses ${n}`).toContain(n);
    }
  });
});

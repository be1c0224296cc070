// Metrics bound to a worker: one registry per worker, gauges set from queue events (exact, no
// drift under concurrency), cpu/memory sampled at scrape time.
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/metrics/index.js';
import { echoJob } from '../../src/protocol/builder.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

async function value(m: WorkerMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} not registered`);
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value ?? 0;
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function worker(maxConcurrent = 3): LocalWorker {
  const w = createWorker({ store: 'memory', maxConcurrent, workerId: `w-${Math.random()}` });
  cleanup.push(() => w.stop());
  return w;
}

describe('worker metrics', () => {
  it('keeps active_jobs and queue_depth equal to the queue under a burst, then 0', async () => {
    const w = worker(3);
    const m = createWorkerMetrics(w);
    const other = createWorkerMetrics(worker());
    await w.start();
    const seen: { depth: number; active: number; gDepth: number; gActive: number }[] = [];
    w.on('queue', (e) => {
      void Promise.all([
        value(m, 'guestkit_worker_queue_depth'),
        value(m, 'guestkit_worker_active_jobs'),
      ]).then(([gDepth, gActive]) => seen.push({ ...e, gDepth, gActive }));
    });
    const jobs = Array.from({ length: 40 }, (_, i) => echoJob({ i, sleep_ms: i % 5 }));
    await Promise.all(jobs.map((j) => w.submit(j)));
    expect(await value(m, 'guestkit_worker_queue_depth')).toBeGreaterThan(0);
    await Promise.all(jobs.map((j) => w.waitFor(j.job_id)));
    await new Promise((r) => setImmediate(r));
    expect(seen.length).toBeGreaterThan(40);
    expect(Math.max(...seen.map((s) => s.gActive))).toBe(3);
    expect(await value(m, 'guestkit_worker_queue_depth')).toBe(0);
    expect(await value(m, 'guestkit_worker_active_jobs')).toBe(0);
    expect(
      await value(m, 'guestkit_worker_jobs_total', { operation: 'system.echo', status: 'completed' }),
    ).toBe(40);
    expect(
      await value(m, 'guestkit_handler_executions_total', { handler: 'system.echo', status: 'success' }),
    ).toBe(40);
    // The other worker's registry saw nothing.
    expect(await value(other, 'guestkit_worker_jobs_total')).toBe(0);
    m.close();
    other.close();
  });

  it('counts transport traffic and samples cpu and memory at scrape time', async () => {
    const w = worker();
    const m = createWorkerMetrics(w);
    w.reportTransport('transport:fetch', { transport: 'file' });
    w.reportTransport('transport:fetch', { transport: 'file' });
    w.reportTransport('transport:error', { transport: 'file', error: 'bad' });
    expect(await value(m, 'guestkit_transport_fetches_total', { transport: 'file' })).toBe(2);
    expect(await value(m, 'guestkit_transport_errors_total', { transport: 'file' })).toBe(1);
    const start = performance.now();
    while (performance.now() - start < 30); // burn a little CPU
    expect(await value(m, 'guestkit_worker_cpu_seconds_total')).toBeGreaterThan(0);
    expect(await value(m, 'guestkit_worker_memory_bytes', { type: 'rss' })).toBeGreaterThan(1e6);
    expect(await value(m, 'guestkit_worker_memory_bytes', { type: 'heap' })).toBeGreaterThan(1e5);
    const text = await m.metrics();
    expect(text).toContain('guestkit_checksum_verifications_total{status="failure"} 0');
    expect(text).not.toMatch(/_total_total/);
    m.close();
    // Closed metrics no longer follow the worker.
    w.reportTransport('transport:fetch', { transport: 'file' });
    expect(await value(m, 'guestkit_transport_fetches_total', { transport: 'file' })).toBe(2);
  });
});

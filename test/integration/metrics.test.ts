// Metrics scraped over HTTP from a real metrics server after a known sequence of jobs submitted
// through the real REST API (SQLite store): every count equals what happened, gauges return to 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ServerHandle } from '../../src/api/index.js';
import { WorkerClient } from '../../src/cli/client.js';
import { resolveConfig } from '../../src/config.js';
import { defaultRegistry } from '../../src/handlers/index.js';
import type { JobHandler } from '../../src/handlers/types.js';
import { silentLogger } from '../../src/logger.js';
import { startMetrics } from '../../src/metrics/index.js';
import { HandlerError } from '../../src/protocol/errors.js';
import { echoJob, JobBuilder } from '../../src/protocol/builder.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';
import { sample } from './api-helpers.js';

type Outcome = 'success' | 'failure' | 'skipped';

/** Reports a checksum outcome and disk traffic through the handler context, like inspect does. */
const checksumHandler: JobHandler<{ outcome: Outcome }> = {
  operation: 'test.checksum',
  payloadTypes: ['test.checksum.v1'],
  validate: (data) => data as { outcome: Outcome },
  async run(ctx) {
    ctx.progress('checksum', 10, 'hashing');
    ctx.metrics.diskRead(1000);
    ctx.metrics.diskWrite(10);
    ctx.metrics.checksum(ctx.data.outcome);
    if (ctx.data.outcome === 'failure') {
      throw new HandlerError('IMAGE_CHECKSUM_MISMATCH', 'Image checksum verification failed for /x', {
        phase: 'checksum',
      });
    }
    return { data: { ok: true } };
  },
};
const failHandler: JobHandler = {
  operation: 'test.fail',
  payloadTypes: ['test.fail.v1'],
  validate: (d) => d,
  async run() {
    throw new HandlerError('EXECUTION_ERROR', 'failing on purpose');
  },
};

let dir: string;
let worker: LocalWorker;
let servers: ServerHandle[];
let client: WorkerClient;
let metricsUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'guestkit-metrics-it-'));
  const config = resolveConfig({
    stateDir: dir,
    maxConcurrent: 4,
    metrics: { addr: '127.0.0.1:0' },
    api: { addr: '127.0.0.1:0' },
    transport: 'http',
  });
  const registry = defaultRegistry.clone().register(checksumHandler).register(failHandler);
  worker = createWorker(config, { registry });
  const logger = silentLogger();
  const m = await startMetrics(worker, config, logger);
  await worker.start();
  const a = await startApi(worker, config, logger, {
    health: { libguestfsProbe: async () => ({ status: 'ok' }) },
  });
  servers = [m!, a!];
  client = new WorkerClient({ baseUrl: `http://${a!.address}` });
  metricsUrl = `http://${m!.address}/metrics`;
});

afterAll(async () => {
  for (const s of servers ?? []) await s.close();
  await worker?.stop({ drainTimeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const scrape = async () => (await fetch(metricsUrl)).text();

describe('metrics after a known sequence', () => {
  it('counts jobs, handlers, checksums, disk bytes and transport traffic exactly', async () => {
    const completed = [echoJob({ n: 1 }), echoJob({ n: 2 }), echoJob({ n: 3 })];
    const checks = (['success', 'failure', 'skipped'] as const).map((outcome) =>
      new JobBuilder('test.checksum').payload('test.checksum.v1', { outcome }).build(),
    );
    const failing = new JobBuilder('test.fail').payload('test.fail.v1', {}).build();
    const timingOut = new JobBuilder('system.echo').data({ sleep_ms: 5000 }).timeout(1).build();
    const cancelled = new JobBuilder('system.echo').data({ sleep_ms: 30_000 }).build();
    const all = [...completed, ...checks, failing, timingOut, cancelled];
    for (const j of all) await client.submit(j);
    await expect(client.submit({ ...echoJob(), kind: 'Nope' })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });

    // While the long jobs run, the gauges equal the worker's own counts.
    for (let i = 0; i < 200 && (await client.status(cancelled.job_id)).status !== 'running'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const mid = await scrape();
    const counts = await worker.counts();
    expect(sample(mid, 'guestkit_worker_active_jobs')).toBe(counts.running + counts.assigned);
    expect(sample(mid, 'guestkit_worker_queue_depth')).toBe(counts.pending);
    expect(sample(mid, 'guestkit_worker_active_jobs')).toBeGreaterThanOrEqual(1);

    await client.cancel(cancelled.job_id);
    await Promise.all(all.map((j) => client.waitFor(j.job_id, { intervalMs: 50 })));
    const text = await scrape();
    const jobs = (operation: string, status: string) =>
      sample(text, 'guestkit_worker_jobs_total', { operation, status });
    expect(jobs('system.echo', 'completed')).toBe(3);
    expect(jobs('test.checksum', 'completed')).toBe(2);
    expect(jobs('test.checksum', 'failed')).toBe(1);
    expect(jobs('test.fail', 'failed')).toBe(1);
    // Failed jobs carry their error code (what an alert groups by).
    expect(
      sample(text, 'guestkit_worker_jobs_total', {
        operation: 'test.checksum',
        status: 'failed',
        error_code: 'IMAGE_CHECKSUM_MISMATCH',
      }),
    ).toBe(1);
    expect(jobs('system.echo', 'timeout')).toBe(1);
    expect(jobs('system.echo', 'cancelled')).toBe(1);
    expect(
      sample(text, 'guestkit_worker_jobs_duration_seconds_count', {
        operation: 'system.echo',
        status: 'timeout',
      }),
    ).toBe(1);
    expect(
      sample(text, 'guestkit_worker_jobs_duration_seconds_bucket', {
        operation: 'system.echo',
        status: 'timeout',
        le: '1',
      }),
    ).toBe(0);
    expect(
      sample(text, 'guestkit_worker_jobs_duration_seconds_bucket', {
        operation: 'system.echo',
        status: 'timeout',
        le: '2',
      }),
    ).toBe(1);
    const runs = (handler: string, status: string) =>
      sample(text, 'guestkit_handler_executions_total', { handler, status });
    expect(runs('system.echo', 'success')).toBe(3);
    expect(runs('system.echo', 'error')).toBe(2);
    expect(runs('test.checksum', 'success')).toBe(2);
    expect(runs('test.checksum', 'error')).toBe(1);
    expect(runs('test.fail', 'error')).toBe(1);
    expect(
      sample(text, 'guestkit_handler_duration_seconds_count', { handler: 'test.fail', status: 'error' }),
    ).toBe(1);
    for (const status of ['success', 'failure', 'skipped']) {
      expect(sample(text, 'guestkit_checksum_verifications_total', { status })).toBe(1);
    }
    expect(sample(text, 'guestkit_worker_disk_read_bytes_total')).toBe(3000);
    expect(sample(text, 'guestkit_worker_disk_write_bytes_total')).toBe(30);
    expect(sample(text, 'guestkit_transport_fetches_total', { transport: 'http' })).toBe(all.length + 1);
    expect(sample(text, 'guestkit_transport_errors_total', { transport: 'http' })).toBe(1);
    expect(sample(text, 'guestkit_worker_active_jobs')).toBe(0);
    expect(sample(text, 'guestkit_worker_queue_depth')).toBe(0);
    expect(sample(text, 'guestkit_worker_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'guestkit_worker_memory_bytes', { type: 'rss' })).toBeGreaterThan(10e6);
    expect(text).toContain('guestkit_process_'); // Node default metrics, prefixed
  });

  it('exports the appliance series from the start: launches by result, boot seconds, active, reserved', async () => {
    const text = await scrape();
    for (const result of ['ok', 'failed'])
      expect(text).toMatch(new RegExp(`^guestkit_appliance_launches_total\\{result="${result}"\\} 0$`, 'm'));
    expect(text).toMatch(/^guestkit_appliance_boot_seconds_count 0$/m);
    expect(sample(text, 'guestkit_appliance_active')).toBe(0);
    expect(text).toMatch(/^guestkit_appliance_reserved_drives 0$/m);
  });

  it('serves /health and JSON errors on the metrics port', async () => {
    const base = metricsUrl.replace(/\/metrics$/, '');
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'healthy' });
    const nf = await fetch(`${base}/nope`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ error: 'NOT_FOUND' });
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});

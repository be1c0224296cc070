// The dashboard plugin over real HTTP with a real worker (SQLite, echo handlers), no browser:
// static files (public, cache headers, 304, 404 envelope, 503 when not built), the stats route
// (exact counts and window after a known sequence) and the all-jobs event stream (every
// transition and progress event of a job, in order, behind the token).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHook } from '../../src/api/auth.js';
import type { DashboardStats } from '../../src/dashboard/live.js';
import { dashboardPlugin } from '../../src/dashboard/plugin.js';
import { echo, startTestWorker, until, type TestWorker } from '../unit/worker-helpers.js';

const TOKEN = 'dash-api-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let tw: TestWorker;
let assets: string;
const apps: FastifyInstance[] = [];

async function serve(assetsDir: string): Promise<string> {
  const app = Fastify();
  app.addHook('onRequest', authHook(TOKEN));
  await app.register(dashboardPlugin, { worker: tw.worker, assetsDir });
  apps.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** Reads SSE frames from a fetch body until `done` says so. */
async function frames(
  res: Response,
  done: (all: { event: string; data: unknown }[]) => boolean,
): Promise<{ event: string; data: unknown }[]> {
  const out: { event: string; data: unknown }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  while (!done(out)) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) out.push({ event, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return out;
}

beforeAll(async () => {
  tw = await startTestWorker({ maxConcurrent: 2 });
  assets = mkdtempSync(join(tmpdir(), 'gk-dash-assets-'));
  mkdirSync(join(assets, 'assets'));
  writeFileSync(join(assets, 'index.html'), '<!doctype html><title>t</title><div id="app"></div>');
  writeFileSync(join(assets, 'assets', 'index-abc123.js'), 'console.log(1);');
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await tw?.cleanup();
  rmSync(assets, { recursive: true, force: true });
});

describe('dashboard static files', () => {
  it('serves index.html and hashed assets without a token, with cache headers and 304s', async () => {
    const base = await serve(assets);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<div id="app">');
    const etag = page.headers.get('etag')!;
    expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const js = await fetch(`${base}/assets/index-abc123.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(await js.text()).toBe('console.log(1);');

    const other = await fetch(`${base}/assets/nope.js`);
    expect(other.status).toBe(404);
    expect(other.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('answers 503 DASHBOARD_NOT_BUILT naming the build command when the files are missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gk-dash-empty-'));
    try {
      const base = await serve(empty);
      const res = await fetch(`${base}/`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('DASHBOARD_NOT_BUILT');
      expect(body.message).toContain('npm run build:dashboard');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('dashboard data routes', () => {
  it('needs the token for stats and events', async () => {
    const base = await serve(assets);
    expect((await fetch(`${base}/api/v1/stats`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/events`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/stats`, { headers: auth })).status).toBe(200);
  });

  it('streams every status change and progress event of a job, in order', async () => {
    const base = await serve(assets);
    const res = await fetch(`${base}/api/v1/events`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const env = echo({ sleep_ms: 50 });
    const reading = frames(res, (all) =>
      all.some((f) => f.event === 'status' && (f.data as { to: string }).to === 'completed'),
    );
    await tw.worker.submit(env);
    const mine = (await reading).filter((f) => (f.data as { job_id: string }).job_id === env.job_id);
    expect(mine.filter((f) => f.event === 'status').map((f) => (f.data as { to: string }).to)).toEqual([
      'pending',
      'assigned',
      'running',
      'completed',
    ]);
    const progress = mine.filter((f) => f.event === 'progress').map((f) => f.data as { sequence: number });
    expect(progress.map((p) => p.sequence)).toEqual([0, 1]);
  });

  it('counts finished jobs and failures in its window, and current jobs from the store', async () => {
    const base = await serve(assets);
    const stats = async () =>
      (await (await fetch(`${base}/api/v1/stats`, { headers: auth })).json()) as DashboardStats;
    const before = await stats();
    const ok = [echo(), echo()];
    const late = echo({ sleep_ms: 5000 }, (b) => b.timeout(1));
    const held = echo({ sleep_ms: 60_000 });
    for (const e of [...ok, late, held]) await tw.worker.submit(e);
    for (const e of [...ok, late]) await tw.worker.waitFor(e.job_id);
    await until(async () => (await tw.worker.get(held.job_id))?.status === 'running', 30_000);

    const after = await stats();
    expect(after.finished_in_window - before.finished_in_window).toBe(3);
    expect(after.failed_in_window - before.failed_in_window).toBe(1);
    expect(after.counts.timeout).toBe(1);
    expect(after.active_jobs).toBe(1);
    expect(after.queue_depth).toBe(0);
    expect(after.window_seconds).toBe(600);
    expect(after.jobs_per_minute).toBeCloseTo(after.finished_in_window / 10, 2);
    expect(after.appliances).toEqual(expect.objectContaining({ active: 0 }));
    await tw.worker.cancel(held.job_id);
  });
});

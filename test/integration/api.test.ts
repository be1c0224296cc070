// The REST API over a real socket against the compiled daemon (`--transport http`, SQLite state):
// the README curl flow, a fetch client, every error case, SSE, cancellation, metrics, shutdown.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerClient } from '../../src/cli/client.js';
import { echoJob, JobBuilder } from '../../src/protocol/builder.js';
import { buildDist, cleanupDist, ROOT, sample, startDaemon, type Daemon } from './api-helpers.js';

const run = promisify(execFile);
let daemon: Daemon;
let api: string;
/** POSTs to /api/v1/jobs made by this file, and how many were refused (transport metrics). */
let posts = 0;
let refused = 0;

async function postJob(body: string, contentType = 'application/json'): Promise<Response> {
  const res = await fetch(`${api}/api/v1/jobs`, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType },
  });
  posts++;
  if (res.status >= 400) refused++;
  return res;
}

beforeAll(async () => {
  buildDist();
  daemon = await startDaemon(['--max-concurrent', '2']);
  api = daemon.url;
}, 180_000);

afterAll(async () => {
  const code = await daemon?.stop();
  cleanupDist();
  expect(code).toBe(0);
});

describe('user flows', () => {
  it('runs the README curl flow: submit, poll until completed, fetch the result', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const script = /<!-- tested: api-curl-flow -->\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(script).toBeDefined();
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script as string], {
      env: { ...process.env, GUESTKIT_WORKER_API_URL: api },
      timeout: 30_000,
    });
    posts++;
    const [submitted, result] = stdout.trim().split('\n');
    expect(JSON.parse(submitted)).toMatchObject({
      status: 'pending',
      message: expect.stringMatching(/submitted successfully$/),
    });
    expect(JSON.parse(result)).toEqual({
      status: 'completed',
      data: { echo: { message: 'hello', sleep_ms: 500 }, message: 'Echo handler executed successfully' },
    });
  });

  it('works from TypeScript with plain fetch', async () => {
    const job = echoJob({ from: 'fetch', sleep_ms: 200 });
    const res = await postJob(JSON.stringify(job));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      job_id: job.job_id,
      status: 'pending',
      message: `Job ${job.job_id} submitted successfully`,
    });
    let status = '';
    for (let i = 0; i < 100 && !['completed', 'failed'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (
        (await (await fetch(`${api}/api/v1/jobs/${encodeURIComponent(job.job_id)}`)).json()) as {
          status: string;
        }
      ).status;
    }
    expect(status).toBe('completed');
    const result = (await (await fetch(`${api}/api/v1/jobs/${job.job_id}/result`)).json()) as {
      success: boolean;
      data: { status: string; worker_id: string; data: { echo: unknown } };
    };
    expect(result.success).toBe(true);
    expect(result.data.data.echo).toEqual({ from: 'fetch', sleep_ms: 200 });
  });

  it('streams every progress event of a running job over SSE, in order, then the end', async () => {
    const job = echoJob({ sleep_ms: 1500 });
    expect((await postJob(JSON.stringify(job))).status).toBe(201);
    const client = new WorkerClient({ baseUrl: api });
    const frames = [];
    const t0 = Date.now();
    for await (const f of client.events(job.job_id)) frames.push({ ...f, at: Date.now() - t0 });
    const progress = frames.filter((f) => f.type === 'progress');
    expect(progress.map((f) => (f.type === 'progress' ? f.event.sequence : -1))).toEqual([0, 1]);
    expect(progress.map((f) => (f.type === 'progress' ? f.event.phase : ''))).toEqual([
      'validation',
      'result_generation',
    ]);
    // The last event arrived live, about when the job finished — not replayed all at once at connect.
    expect(progress[1].at - progress[0].at).toBeGreaterThan(1000);
    expect(frames.at(-1)).toMatchObject({ type: 'end', status: 'completed' });
    expect(frames.some((f) => f.type === 'status' && f.status === 'completed')).toBe(true);
  });

  it('cancels a running job (202) and then refuses a second cancel (409)', async () => {
    const job = new JobBuilder('system.echo').data({ sleep_ms: 30_000 }).build();
    expect((await postJob(JSON.stringify(job))).status).toBe(201);
    const client = new WorkerClient({ baseUrl: api });
    await client
      .waitFor(job.job_id, { intervalMs: 50, signal: AbortSignal.timeout(10_000) })
      .catch(() => undefined);
    for (let i = 0; i < 100 && (await client.status(job.job_id)).status !== 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    const del = await fetch(`${api}/api/v1/jobs/${job.job_id}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const done = await client.waitFor(job.job_id, { intervalMs: 50 });
    expect(done.status).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(3000);
    const again = await fetch(`${api}/api/v1/jobs/${job.job_id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'NOT_CANCELLABLE' });
    expect((await client.result(job.job_id)).error?.code).toBe('CANCELLED');
  });
});

describe('errors over a real socket are JSON envelopes', () => {
  it.each([
    ['malformed JSON', () => postJob('{"version":', 'application/json'), 400, 'VALIDATION_ERROR'],
    ['wrong content type', () => postJob('<job/>', 'application/xml'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'body over 2 MiB',
      () => postJob(JSON.stringify({ ...echoJob(), pad: 'x'.repeat(2.1 * 1024 * 1024) })),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'invalid envelope',
      () => postJob(JSON.stringify({ ...echoJob(), kind: 'Pod' })),
      400,
      'VALIDATION_ERROR',
    ],
    ['unknown route', () => fetch(`${api}/api/v1/nothing`), 404, 'NOT_FOUND'],
    [
      'wrong method',
      () => fetch(`${api}/api/v1/capabilities`, { method: 'POST' }),
      405,
      'METHOD_NOT_ALLOWED',
    ],
    ['unknown job', () => fetch(`${api}/api/v1/jobs/job-does-not-exist`), 404, 'NOT_FOUND'],
    ['invalid job id', () => fetch(`${api}/api/v1/jobs/a%2Fb%2Fc%2Fd`), 400, 'VALIDATION_ERROR'],
    ['bad list limit', () => fetch(`${api}/api/v1/jobs?limit=5000`), 400, 'VALIDATION_ERROR'],
  ])('%s', async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe(code);
    expect(body.message.length).toBeGreaterThan(5);
  });

  it('answers a chunked body larger than the limit with 413 JSON, not a reset', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${api}/api/v1/jobs`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        },
      );
      req.on('error', reject);
      const chunk = 'x'.repeat(256 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 12) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    posts++;
    refused++;
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('listing, capabilities, health, docs', () => {
  it('lists with server-side filters and real totals', async () => {
    const page = (await (
      await fetch(`${api}/api/v1/jobs?status=completed&operation=system.echo&limit=1`)
    ).json()) as {
      jobs: { status: string }[];
      total: number;
      next_cursor: string | null;
    };
    expect(page.jobs).toHaveLength(1);
    expect(page.total).toBeGreaterThanOrEqual(3);
    expect(page.next_cursor).toEqual(expect.any(String));
    const next = (await (
      await fetch(
        `${api}/api/v1/jobs?status=completed&operation=system.echo&limit=1&cursor=${page.next_cursor}`,
      )
    ).json()) as {
      jobs: { job_id: string }[];
    };
    expect(next.jobs).toHaveLength(1);
  });

  it('serves capabilities, workers, health (both paths) and the OpenAPI document', async () => {
    const caps = (await (await fetch(`${api}/api/v1/capabilities`)).json()) as {
      operations: string[];
      max_concurrent_jobs: number;
    };
    expect(caps.operations).toContain('system.echo');
    expect(caps.max_concurrent_jobs).toBe(2);
    expect(((await (await fetch(`${api}/api/v1/workers`)).json()) as { total: number }).total).toBe(1);
    for (const path of ['/health', '/api/v1/health']) {
      const h = (await (await fetch(`${api}${path}`)).json()) as {
        status: string;
        uptime_seconds: number;
        checks: Record<string, { status: string }>;
      };
      expect(h.status, JSON.stringify(h.checks)).toBe('healthy');
      expect(h.checks.store.status).toBe('ok');
      expect(h.checks.libguestfs.status).toBe('ok');
      expect(h.uptime_seconds).toBeGreaterThan(0);
    }
    const doc = (await (await fetch(`${api}/openapi.json`)).json()) as { openapi: string; paths: object };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/api/v1/jobs/{id}/events');
    const docs = await fetch(`${api}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('moved the transport and job metrics for exactly what this suite did', async () => {
    const text = await (await fetch(`${daemon.metricsUrl}/metrics`)).text();
    expect(sample(text, 'guestkit_transport_fetches_total', { transport: 'http' })).toBe(posts);
    expect(sample(text, 'guestkit_transport_errors_total', { transport: 'http' })).toBe(refused);
    expect(
      sample(text, 'guestkit_worker_jobs_total', { operation: 'system.echo', status: 'completed' }),
    ).toBe(3);
    expect(
      sample(text, 'guestkit_worker_jobs_total', { operation: 'system.echo', status: 'cancelled' }),
    ).toBe(1);
    expect(sample(text, 'guestkit_worker_active_jobs')).toBe(0);
    expect(sample(text, 'guestkit_worker_queue_depth')).toBe(0);
    expect(await (await fetch(`${daemon.metricsUrl}/health`)).json()).toEqual({ status: 'healthy' });
  });
});

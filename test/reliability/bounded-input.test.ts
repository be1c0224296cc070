// Issue #14, bounded input: numbers past sane ranges (`timeout_seconds: 1e20` was accepted) and
// YAML alias amplification (a body under the 2 MiB limit that expanded to a ~99 MB job, grew the
// store and blocked /health for seconds). Through the real HTTP server on a socket, a real worker
// (SQLite in memory).
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { echoJob } from '../../src/protocol/builder.js';
import { MAX_EXPANDED_BYTES, parseJobText } from '../../src/protocol/parse.js';
import { MAX_TIMEOUT_SECONDS } from '../../src/protocol/validate.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

let worker: LocalWorker;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  worker = createWorker({ store: 'memory', maxConcurrent: 2 });
  await worker.start();
  app = await buildApi(worker, { health: { libguestfsProbe: async () => ({ status: 'ok' }) } });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await worker.stop({ drainTimeoutMs: 0 });
});

async function post(
  body: string,
  type: string,
): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const res = await fetch(`${url}/api/v1/jobs`, { method: 'POST', body, headers: { 'content-type': type } });
  return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
}

/** A YAML job whose echo data holds `aliases` aliases of one `bytes`-long anchored string. */
function aliasBomb(bytes: number, aliases: number): string {
  const job = echoJob({});
  const lines = [
    'version: "1.0"',
    `job_id: ${job.job_id}`,
    `created_at: "${job.created_at}"`,
    'kind: VMOperation',
    'operation: system.echo',
    'payload:',
    '  type: system.echo.v1',
    '  data:',
    `    big: &a ${'x'.repeat(bytes)}`,
    '    copies:',
    ...Array.from({ length: aliases }, () => '      - *a'),
  ];
  return `${lines.join('\n')}\n`;
}

describe('bounded input', () => {
  it('a YAML body of aliases of one big string is refused by its expanded size (medium)', async () => {
    const text = aliasBomb(1024 * 1024 - 2048, 99);
    expect(text.length).toBeLessThan(2 * 1024 * 1024); // under the body limit: only expansion catches it
    const r = await post(text, 'application/yaml');
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('VALIDATION_ERROR');
    expect(r.body.message).toMatch(/more than \d+ bytes once expanded.*aliases/);
    expect((await worker.counts()).pending ?? 0).toBe(0);
    // The process keeps serving.
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // A few aliases of a small string are fine.
    expect(() => parseJobText(aliasBomb(100, 10), 'yaml')).not.toThrow();
    // The budget is on the expansion, not the text: 5 copies of 1 MiB pass a 4 MiB budget.
    expect(() => parseJobText(aliasBomb(1024 * 1024, 5), 'yaml')).toThrow(/once expanded/);
    expect(MAX_EXPANDED_BYTES).toBe(4 * 1024 * 1024);
  });

  it.each([
    ['execution.timeout_seconds', { timeout_seconds: 1e20 }, /timeout_seconds - must be at most 604800/],
    ['execution.timeout_seconds', { timeout_seconds: MAX_TIMEOUT_SECONDS + 1 }, /at most 604800 \(7 days\)/],
    ['execution.max_attempts', { max_attempts: 1_000_000 }, /max_attempts - must be at most 100/],
  ])('%s past its range is a VALIDATION_ERROR saying the range (low)', async (_field, execution, message) => {
    const job = { ...echoJob({}), execution };
    const r = await post(JSON.stringify(job), 'application/json');
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('VALIDATION_ERROR');
    expect(r.body.message).toMatch(message);
  });

  it('constraints.maximum_disk_size_gb past its range is refused; the top of each range is accepted', async () => {
    const bad = { ...echoJob({}), constraints: { maximum_disk_size_gb: 1e15 } };
    const r = await post(JSON.stringify(bad), 'application/json');
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/maximum_disk_size_gb - must be 0-/);
    const ok = { ...echoJob({}), execution: { timeout_seconds: MAX_TIMEOUT_SECONDS, max_attempts: 100 } };
    expect((await post(JSON.stringify(ok), 'application/json')).status).toBe(201);
  });
});

// Property-based fuzzing of the job validator and the REST API (issue 9, "Bad input"): mutated job
// documents (wrong types, huge strings, deep nesting, lone surrogates, prototype-pollution keys),
// raw bodies (invalid UTF-8, truncated JSON, YAML, odd content types) and odd URLs. Every answer
// must be the JSON error envelope with a code (or a success), never a 5xx, never a crash, and
// Object.prototype must stay clean. Fixed seed; GUESTKIT_FUZZ_RUNS scales it (test:soak runs 10,000).
import { mkdtempSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { isWorkerError } from '../../src/protocol/errors.js';
import { validateEnvelope } from '../../src/protocol/validate.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';
import { ARB_DOCUMENT, ARB_RAW_BODY, ARB_REQUEST_LINE, checkEnvelope } from './fuzz-arbitraries.js';

const RUNS = Number(process.env.GUESTKIT_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.GUESTKIT_FUZZ_SEED ?? 20261126);
const SOCKET_RUNS = Math.max(200, Math.round(RUNS / 10));

let dir: string;
let worker: LocalWorker;
let app: FastifyInstance;
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
const ARB_DOCUMENT_EXAMPLE = JSON.stringify({
  version: '1.0',
  job_id: 'placeholder',
  created_at: '2026-01-01T00:00:00Z',
  kind: 'VMOperation',
  operation: 'system.echo',
  payload: { type: 'system.echo.v1', data: {} },
});

beforeAll(async () => {
  // An empty allowed root: a fuzzed disk job that passes validation fails on its paths, never
  // reaching an appliance.
  dir = mkdtempSync(join(tmpdir(), 'gk-fuzz-'));
  worker = createWorker({
    store: 'memory',
    maxConcurrent: 4,
    allowedRoots: [dir],
    stateDir: join(dir, 'state'),
    workDir: join(dir, 'work'),
  });
  await worker.start();
  app = await buildApi(worker, {
    dashboard: false,
    docs: false,
    health: { libguestfsProbe: async () => ({ status: 'ok' }) },
  });
});
afterAll(async () => {
  await app?.close();
  await worker?.stop({ drainTimeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

/** The contract every answer keeps. Returns a reason when broken (fast-check shrinks on it). */
function brokenContract(status: number, type: string | undefined, body: string): string | undefined {
  if (status >= 500) return `status ${status}: ${body.slice(0, 300)}`;
  if (!type?.startsWith('application/json')) return `content-type ${type}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (status >= 400) return checkEnvelope(parsed);
  return undefined;
}

const expectContract = (res: LightMyRequestResponse) => {
  const why = brokenContract(res.statusCode, res.headers['content-type'] as string | undefined, res.body);
  if (why) throw new Error(why);
};

describe('validator', () => {
  it(`validateEnvelope accepts or throws VALIDATION_ERROR for ${RUNS} mutated documents`, () => {
    fc.assert(
      fc.property(ARB_DOCUMENT, ({ doc }) => {
        try {
          validateEnvelope(JSON.parse(doc));
        } catch (err) {
          if (!isWorkerError(err) || err.code !== 'VALIDATION_ERROR') throw err;
          expect(err.message.length).toBeGreaterThan(0);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  });

  it('refuses a document nested 100,000 deep with VALIDATION_ERROR, not a stack overflow (regression)', () => {
    const n = 100_000;
    const doc = JSON.parse(
      `{"version":"1.0","job_id":"deep-nest-1","created_at":"2026-01-01T00:00:00Z","kind":"VMOperation",` +
        `"operation":"system.echo","payload":{"type":"system.echo.v1","data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`,
    ) as unknown;
    expect(() => validateEnvelope(doc)).toThrow(/nested deeper than 100 levels \(under payload\)/);
  });
});

describe('REST API (inject)', () => {
  it(`answers ${RUNS} mutated job documents with a success or the error envelope`, async () => {
    await fc.assert(
      fc.asyncProperty(ARB_DOCUMENT, async ({ doc, contentType }) => {
        const res = await app.inject({
          method: 'POST',
          url: '/api/v1/jobs',
          headers: { 'content-type': contentType },
          payload: doc,
        });
        expectContract(res);
        if (res.statusCode < 300) expect(JSON.parse(res.body)).toHaveProperty('job_id');
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it(`answers ${RUNS} raw bodies (invalid UTF-8, truncated, nested, odd content types) with the envelope`, async () => {
    await fc.assert(
      fc.asyncProperty(ARB_RAW_BODY, async ({ body, contentType }) => {
        const res = await app.inject({
          method: 'POST',
          url: '/api/v1/jobs',
          headers: contentType === undefined ? {} : { 'content-type': contentType },
          payload: body,
        });
        expectContract(res);
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  });

  it(`answers ${RUNS} odd methods, ids and query strings with the envelope`, async () => {
    await fc.assert(
      fc.asyncProperty(ARB_REQUEST_LINE, async ({ method, url }) => {
        const res = await app.inject({ method, url });
        expectContract(res);
      }),
      { seed: SEED + 2, numRuns: RUNS },
    );
  });

  // Regressions found by this suite: each answered 500 or killed the process before the fix.
  it.each([
    [
      '300 KiB of "[" as YAML (the yaml parser ran out of memory: process killed)',
      '['.repeat(300_000),
      'yaml',
    ],
    ['deep block sequence as YAML', `${'- '.repeat(50_000)}x`, 'yaml'],
    ['a version whose toString is not a function', '{"version":{"toString":1}}', 'json'],
    [
      'a kind whose toString is not a function',
      '{"version":"1.0","job_id":"abcdefgh","created_at":"2026-01-01T00:00:00Z","kind":{"toString":1}}',
      'json',
    ],
    [
      'a priority nested 50,000 deep',
      `{"version":"1.0","job_id":"abcdefgh","created_at":"2026-01-01T00:00:00Z","kind":"VMOperation","operation":"system.echo","payload":{"type":"system.echo.v1"},"execution":{"priority":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
      'json',
    ],
    [
      'payload data nested 5,000 deep (stack overflow in JSON.stringify)',
      `{"version":"1.0","job_id":"abcdefgh-deep","created_at":"2026-01-01T00:00:00Z","kind":"VMOperation","operation":"system.echo","payload":{"type":"system.echo.v1","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}`,
      'json',
    ],
  ])('refuses %s with 400 VALIDATION_ERROR', async (_name, body, format) => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: { 'content-type': `application/${format}` },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'VALIDATION_ERROR' });
  });

  it.each([
    '../../../tmp/evil-job',
    '/etc/passwd-job',
    'job%2f..%2f..',
    'job id with spaces',
    'a'.repeat(201),
  ])('refuses the job id %j (it becomes a file name, a key and a URL segment)', async (jobId) => {
    const doc = JSON.parse(ARB_DOCUMENT_EXAMPLE) as Record<string, unknown>;
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ ...doc, job_id: jobId }),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'VALIDATION_ERROR' });
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE, JSON or YAML', async () => {
    for (const type of ['application/json', 'application/yaml']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: { 'content-type': type },
        payload: `"${'x'.repeat(worker.config.api.bodyLimitBytes + 1)}"`,
      });
      expect(res.statusCode).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    }
  });

  it('leaves Object.prototype clean and the worker healthy', async () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const res = await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(res.body) as { status: string }).status).toBe('healthy');
  });
});

describe('REST API (real socket)', () => {
  it(`answers ${SOCKET_RUNS} documents and raw bodies over TCP with the envelope`, async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const send = (body: Buffer, contentType: string | undefined) =>
      new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/v1/jobs',
            agent,
            headers: {
              ...(contentType === undefined ? {} : { 'content-type': contentType }),
              'content-length': body.length,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                type: res.headers['content-type'],
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const arb = fc.oneof(
      ARB_DOCUMENT.map(({ doc, contentType }) => ({ body: Buffer.from(doc), contentType })),
      ARB_RAW_BODY.map(({ body, contentType }) => ({
        body: typeof body === 'string' ? Buffer.from(body) : body,
        contentType,
      })),
    );
    try {
      await fc.assert(
        fc.asyncProperty(arb, async ({ body, contentType }) => {
          const r = await send(body, contentType);
          const why = brokenContract(r.status, r.type, r.body);
          if (why) throw new Error(why);
        }),
        { seed: SEED + 3, numRuns: SOCKET_RUNS },
      );
      // The server still answers after everything above.
      const ok = await send(Buffer.from('{}'), 'application/json');
      expect(ok.status).toBe(400);
    } finally {
      agent.destroy();
    }
  });
});

// Bearer-token auth over a real socket: every data route refuses a missing token, a wrong one (any
// length), other schemes and a token in the query string with the 401 envelope; health stays open;
// the right token passes. The comparison hashes both sides before timingSafeEqual, so tokens of
// any length are compared in constant time and never throw.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { bearerMatches } from '../../src/api/auth.js';
import { createHash } from 'node:crypto';
import { echoJob } from '../../src/protocol/builder.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

const TOKEN = 's3cret-token-for-reliability';
let worker: LocalWorker;
let app: FastifyInstance;
let base: string;
let jobId: string;

beforeAll(async () => {
  worker = createWorker({ store: 'memory', maxConcurrent: 2 });
  await worker.start();
  jobId = (await worker.submit(echoJob({ a: 1 }))).job_id;
  await worker.waitFor(jobId);
  app = await buildApi(worker, { token: TOKEN, health: { libguestfsProbe: async () => ({ status: 'ok' }) } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await worker?.stop({ drainTimeoutMs: 0 });
});

const routes = (): [string, string, string?][] => [
  ['GET', '/api/v1/jobs'],
  ['POST', '/api/v1/jobs', JSON.stringify(echoJob({}))],
  ['GET', `/api/v1/jobs/${jobId}`],
  ['GET', `/api/v1/jobs/${jobId}/result`],
  ['GET', `/api/v1/jobs/${jobId}/events`],
  ['DELETE', `/api/v1/jobs/${jobId}`],
  ['GET', '/api/v1/capabilities'],
  ['GET', '/api/v1/workers'],
  ['GET', '/openapi.json'],
  ['GET', '/api/v1/no-such-route'],
  ['GET', '/metrics'],
];

const BAD_AUTH: [string, Record<string, string>, string][] = [
  ['no token', {}, ''],
  ['wrong token, same length', { authorization: `Bearer ${'x'.repeat(TOKEN.length)}` }, ''],
  ['wrong token, one character short', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, ''],
  ['right token plus a character', { authorization: `Bearer ${TOKEN}x` }, ''],
  ['a 4 KiB token', { authorization: `Bearer ${'a'.repeat(4096)}` }, ''],
  ['empty bearer', { authorization: 'Bearer ' }, ''],
  [
    'basic scheme with the token',
    { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` },
    '',
  ],
  ['the token without a scheme', { authorization: TOKEN }, ''],
  ['the token twice', { authorization: `Bearer ${TOKEN} ${TOKEN}` }, ''],
  ['token in the query string', {}, `?token=${TOKEN}`],
  ['access_token in the query string', {}, `?access_token=${TOKEN}`],
  ['api_token in the query string', {}, `?api_token=${TOKEN}`],
];

describe('API auth', () => {
  it.each(BAD_AUTH)('%s → 401 on every data route', async (_name, headers, query) => {
    for (const [method, path, body] of routes()) {
      const res = await fetch(`${base}${path}${query}`, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        body,
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const err = (await res.json()) as { error: string; message: string };
      expect(err.error).toBe('UNAUTHORIZED');
      expect(err.message).not.toContain(TOKEN);
    }
  });

  it('keeps health open without a token', async () => {
    for (const path of ['/health', '/api/v1/health']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('healthy');
    }
  });

  it('lets the right token through (scheme case-insensitive)', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await fetch(`${base}/api/v1/jobs/${jobId}/result`, {
        headers: { authorization: `${scheme} ${TOKEN}` },
      });
      expect(res.status).toBe(200);
    }
  });

  it('compares digests: any length, never a throw, exact match only', () => {
    const expected = createHash('sha256').update(TOKEN).digest();
    for (const given of ['', 'a', TOKEN.slice(1), `${TOKEN}${TOKEN}`, 'é'.repeat(1000)]) {
      expect(bearerMatches(`Bearer ${given}`, expected)).toBe(false);
    }
    expect(bearerMatches(undefined, expected)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN}`, expected)).toBe(true);
  });
});

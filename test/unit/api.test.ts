// The REST API through fastify inject against a real worker (in-memory SQLite): every route,
// every error case, responses checked against the route schemas.
import { createHash } from 'node:crypto';
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { bearerMatches } from '../../src/api/auth.js';
import * as S from '../../src/api/schemas.js';
import { echoJob, JobBuilder } from '../../src/protocol/builder.js';
import { OPERATION_NAMES, OPERATION_PAYLOADS } from '../../src/protocol/payloads/index.js';
import { JOB_STATUSES } from '../../src/protocol/vocabulary.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

FormatRegistry.Set('date-time', (v) => /^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(Date.parse(v)));

let worker: LocalWorker;
let app: FastifyInstance;

beforeAll(async () => {
  worker = createWorker({ store: 'memory', maxConcurrent: 2, api: { bodyLimitBytes: 64 * 1024 } });
  await worker.start();
  app = await buildApi(worker, { health: { libguestfsProbe: async () => ({ status: 'ok' }) } });
});
afterAll(async () => {
  await app.close();
  await worker.stop({ drainTimeoutMs: 0 });
});

async function call(opts: InjectOptions, status: number, schema?: TSchema) {
  const res = await app.inject(opts);
  expect(res.statusCode, res.body).toBe(status);
  const body = res.body === '' ? undefined : (JSON.parse(res.body) as Record<string, unknown>);
  if (status >= 400) {
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Value.Check(S.ErrorSchema, body), res.body).toBe(true);
    expect(res.body).not.toMatch(/\n\s+at /); // no stack trace
  } else if (schema) {
    expect([...Value.Errors(schema, body)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
  }
  return { res, body: body as Record<string, unknown> & { error?: string; message?: string } };
}

const post = (payload: unknown, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url: '/api/v1/jobs',
  payload: payload as string,
  headers,
});

async function until(jobId: string, statuses: string[]): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const d = await worker.get(jobId);
    if (d && statuses.includes(d.status)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${jobId} never reached ${statuses.join('/')}`);
}

describe('POST /api/v1/jobs', () => {
  it('accepts a job with 201 and answers a repeat of the same document with 200', async () => {
    const job = echoJob({ hello: 'world' });
    const first = await call(post(job), 201, S.SubmitResponseSchema);
    expect(first.body).toEqual({
      job_id: job.job_id,
      status: 'pending',
      message: `Job ${job.job_id} submitted successfully`,
    });
    expect(first.res.headers.location).toBe(`/api/v1/jobs/${job.job_id}`);
    const again = await call(post(job), 200, S.SubmitResponseSchema);
    expect(again.body).toMatchObject({ job_id: job.job_id, existing: true, reason: 'same_document' });
  });

  it('refuses a different document under an existing id (409 DUPLICATE_JOB_ID)', async () => {
    const job = echoJob({ a: 1 });
    await call(post(job), 201);
    const { body } = await call(post({ ...job, payload: { type: 'system.echo.v1', data: { a: 2 } } }), 409);
    expect(body.error).toBe('DUPLICATE_JOB_ID');
  });

  it('refuses an idempotency key in flight (409) and returns the completed job for it later (200)', async () => {
    const a = new JobBuilder('system.echo').data({ sleep_ms: 200 }).idempotencyKey('k-api-1').build();
    const b = new JobBuilder('system.echo').data({ sleep_ms: 200 }).idempotencyKey('k-api-1').build();
    await call(post(a), 201);
    expect((await call(post(b), 409)).body.error).toBe('DUPLICATE_IN_PROGRESS');
    await worker.waitFor(a.job_id);
    const c = new JobBuilder('system.echo').data({}).idempotencyKey('k-api-1').build();
    const r = await call(post(c), 200, S.SubmitResponseSchema);
    expect(r.body).toMatchObject({ job_id: a.job_id, status: 'completed', reason: 'idempotency_key' });
  });

  it('gives protocol validation messages in protocol order', async () => {
    const job = echoJob();
    const v = await call(post({ ...job, version: '2.0', kind: 'Nope' }), 400);
    expect(v.body).toMatchObject({ error: 'VALIDATION_ERROR', message: 'Unsupported protocol version: 2.0' });
    const k = await call(post({ ...job, kind: 'Nope' }), 400);
    expect(k.body.message).toBe("Invalid field value: kind - must be 'VMOperation', got 'Nope'");
    const u = await call(post({ ...job, operation: 'nope.op', payload: { type: 'nope.op.v1' } }), 400);
    expect(u.body.error).toBe('UNSUPPORTED_OPERATION');
    const arr = await call(post([1, 2]), 400);
    expect(arr.body.error).toBe('VALIDATION_ERROR');
  });

  it('answers malformed JSON, empty bodies, YAML, wrong content types and large bodies with the envelope', async () => {
    const bad = await call(post('{"version": "1.0",', { 'content-type': 'application/json' }), 400);
    expect(bad.body.error).toBe('VALIDATION_ERROR');
    expect(bad.body.message).toMatch(/^Malformed JSON/);
    const empty = await call(
      { method: 'POST', url: '/api/v1/jobs', headers: { 'content-type': 'application/json' } },
      400,
    );
    expect(empty.body.message).toMatch(/empty/);
    const job = echoJob({ yaml: true });
    const yamlText = `version: "1.0"\njob_id: ${job.job_id}\ncreated_at: "${job.created_at}"\nkind: VMOperation\noperation: system.echo\npayload:\n  type: system.echo.v1\n  data: {yaml: true}\n`;
    await call(post(yamlText, { 'content-type': 'application/yaml' }), 201);
    const badYaml = await call(post('a: [1,\n', { 'content-type': 'text/yaml' }), 400);
    expect(badYaml.body.message).toMatch(/^Malformed YAML/);
    const text = await call(post('hello', { 'content-type': 'text/plain' }), 415);
    expect(text.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    const form = await call(post('a=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
    expect(form.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = JSON.stringify({ ...echoJob(), pad: 'x'.repeat(70 * 1024) });
    const large = await call(post(big, { 'content-type': 'application/json' }), 413);
    expect(large.body.error).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('job routes', () => {
  it('serves status, NOT_READY while running, then the result document', async () => {
    const job = echoJob({ sleep_ms: 300, v: 42 });
    await call(post(job), 201);
    await until(job.job_id, ['running']);
    const running = await call(
      { method: 'GET', url: `/api/v1/jobs/${job.job_id}` },
      200,
      S.JobStatusDocumentSchema,
    );
    expect(running.body).toMatchObject({
      job_id: job.job_id,
      operation: 'system.echo',
      status: 'running',
      attempt: 1,
    });
    const nr = await call({ method: 'GET', url: `/api/v1/jobs/${job.job_id}/result` }, 409);
    expect(nr.body).toMatchObject({ error: 'NOT_READY', details: { status: 'running' } });
    await worker.waitFor(job.job_id);
    const r = await call(
      { method: 'GET', url: `/api/v1/jobs/${job.job_id}/result` },
      200,
      S.ResultResponseSchema,
    );
    expect(r.body).toMatchObject({
      success: true,
      data: { job_id: job.job_id, status: 'completed', data: { echo: { sleep_ms: 300, v: 42 } } },
    });
  });

  it('lists newest first with filters, totals and cursor pagination', async () => {
    const op = 'test.echo';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const j = echoJob({ i }, op);
      ids.push(j.job_id);
      await call(post(j), 201);
    }
    await Promise.all(ids.map((id) => worker.waitFor(id)));
    const p1 = await call(
      { method: 'GET', url: `/api/v1/jobs?operation=${op}&limit=2` },
      200,
      S.ListResponseSchema,
    );
    expect(p1.body.total).toBe(5);
    const jobs1 = p1.body.jobs as { job_id: string }[];
    expect(jobs1.map((j) => j.job_id)).toEqual([ids[4], ids[3]]);
    const p2 = await call(
      { method: 'GET', url: `/api/v1/jobs?operation=${op}&limit=2&cursor=${String(p1.body.next_cursor)}` },
      200,
      S.ListResponseSchema,
    );
    expect((p2.body.jobs as { job_id: string }[]).map((j) => j.job_id)).toEqual([ids[2], ids[1]]);
    const done = await call({ method: 'GET', url: `/api/v1/jobs?status=completed&operation=${op}` }, 200);
    expect(done.body.total).toBe(5);
    const none = await call({ method: 'GET', url: `/api/v1/jobs?status=failed&operation=${op}` }, 200);
    expect(none.body).toEqual({ jobs: [], total: 0, next_cursor: null });
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'status=weird', 'cursor=%2F%2F']) {
      expect((await call({ method: 'GET', url: `/api/v1/jobs?${q}` }, 400)).body.error).toBe(
        'VALIDATION_ERROR',
      );
    }
  });

  it('cancels a pending job (200), a running job (202), and refuses terminal or non-cancellable ones (409)', async () => {
    const blockers = [echoJob({ sleep_ms: 2000 }), echoJob({ sleep_ms: 2000 })];
    const fixed = new JobBuilder('system.echo').data({ sleep_ms: 400 }).cancellable(false).build();
    for (const b of blockers) await call(post(b), 201);
    await Promise.all(blockers.map((b) => until(b.job_id, ['running'])));
    const queued = echoJob({});
    await call(post(queued), 201);
    const c1 = await call(
      { method: 'DELETE', url: `/api/v1/jobs/${queued.job_id}` },
      200,
      S.CancelResponseSchema,
    );
    expect(c1.body.status).toBe('cancelled');
    const c2 = await call(
      { method: 'DELETE', url: `/api/v1/jobs/${blockers[0].job_id}` },
      202,
      S.CancelResponseSchema,
    );
    expect(c2.body.status).toBe('running');
    expect((await worker.waitFor(blockers[0].job_id)).status).toBe('cancelled');
    await call(post(fixed), 201);
    await until(fixed.job_id, ['running']);
    const c3 = await call({ method: 'DELETE', url: `/api/v1/jobs/${fixed.job_id}` }, 409);
    expect(c3.body.error).toBe('NOT_CANCELLABLE');
    const c4 = await call({ method: 'DELETE', url: `/api/v1/jobs/${queued.job_id}` }, 409);
    expect(c4.body).toMatchObject({ error: 'NOT_CANCELLABLE', details: { status: 'cancelled' } });
    const cancelled = await call(
      { method: 'GET', url: `/api/v1/jobs/${queued.job_id}/result` },
      200,
      S.ResultResponseSchema,
    );
    expect(cancelled.body).toMatchObject({ data: { status: 'cancelled', error: { code: 'CANCELLED' } } });
    await call({ method: 'DELETE', url: `/api/v1/jobs/${blockers[1].job_id}` }, 202);
  });

  it('shows what was submitted with its history, and deletes a finished job for good (409 while live)', async () => {
    const job = new JobBuilder('guestkit.inspect')
      .payload('guestkit.inspect.v1', { image: { path: '/nowhere/a.img' } })
      .idempotencyKey(`del-${Date.now()}`)
      .build();
    await call(post(job), 201);
    const st = await call(
      { method: 'GET', url: `/api/v1/jobs/${job.job_id}` },
      200,
      S.JobStatusDocumentSchema,
    );
    expect(st.body.image).toBe('/nowhere/a.img');
    await worker.waitFor(job.job_id);
    const sub = await call(
      { method: 'GET', url: `/api/v1/jobs/${job.job_id}/submission` },
      200,
      S.SubmissionSchema,
    );
    expect(sub.body.envelope).toEqual(job);
    expect(sub.body.source).toBe('http');
    const history = sub.body.history as { from: string | null; to: string }[];
    expect(history[0]).toMatchObject({ from: null, to: 'pending' });
    expect(history.at(-1)?.to).toBe('failed');

    const live = echoJob({ sleep_ms: 2000 });
    await call(post(live), 201);
    const refused = await call({ method: 'DELETE', url: `/api/v1/jobs/${live.job_id}/record` }, 409);
    expect(refused.body).toMatchObject({ error: 'NOT_FINISHED', details: { job_id: live.job_id } });
    expect(refused.body.message).toMatch(/cancel it first/);
    await worker.cancel(live.job_id);

    const del = await call(
      { method: 'DELETE', url: `/api/v1/jobs/${job.job_id}/record` },
      200,
      S.DeleteResponseSchema,
    );
    expect(del.body.job_id).toBe(job.job_id);
    for (const url of ['', '/result', '/submission']) {
      await call({ method: 'GET', url: `/api/v1/jobs/${job.job_id}${url}` }, 404);
    }
    expect(await worker.events(job.job_id)).toEqual([]);
    const listed = await call({ method: 'GET', url: '/api/v1/jobs?limit=1000' }, 200);
    expect((listed.body.jobs as { job_id: string }[]).map((j) => j.job_id)).not.toContain(job.job_id);
    await call({ method: 'DELETE', url: `/api/v1/jobs/${job.job_id}/record` }, 404);
    // Its idempotency key is free again: the same document is a new job.
    await call(post(job), 201);
  });

  it('says what is wrong with a query once per problem, with the allowed values once', async () => {
    const weird = await call({ method: 'GET', url: '/api/v1/jobs?status=weird' }, 400);
    expect(weird.body).toMatchObject({ error: 'VALIDATION_ERROR', details: { location: 'querystring' } });
    expect(weird.body.message).toBe(
      `Invalid request: query parameter 'status' must be one of: ${JOB_STATUSES.join(', ')}`,
    );
    const two = await call({ method: 'GET', url: '/api/v1/jobs?status=weird&limit=5000' }, 400);
    expect(two.body.message).toBe(
      `Invalid request: query parameter 'status' must be one of: ${JOB_STATUSES.join(', ')}; ` +
        "query parameter 'limit' must be <= 1000",
    );
  });

  it('answers unknown and invalid ids, unknown routes and wrong methods with the envelope', async () => {
    for (const url of [
      '/api/v1/jobs/unknown-job-id',
      '/api/v1/jobs/unknown-job-id/result',
      '/api/v1/jobs/unknown-job-id/events',
    ]) {
      expect((await call({ method: 'GET', url }, 404)).body.error).toBe('NOT_FOUND');
    }
    expect((await call({ method: 'DELETE', url: '/api/v1/jobs/unknown-job-id' }, 404)).body.error).toBe(
      'NOT_FOUND',
    );
    for (const id of [
      'short',
      'bad%20id%20here',
      'semi%3Bcolon1',
      'x'.repeat(201),
      'x'.repeat(600),
      'bad%E0%A4%A',
    ]) {
      expect((await call({ method: 'GET', url: `/api/v1/jobs/${id}` }, 400)).body.error).toBe(
        'VALIDATION_ERROR',
      );
    }
    expect((await call({ method: 'GET', url: '/api/v2/nothing' }, 404)).body.error).toBe('NOT_FOUND');
    const m = await call({ method: 'PUT', url: '/api/v1/jobs' }, 405);
    expect(m.body.error).toBe('METHOD_NOT_ALLOWED');
    expect(m.res.headers.allow).toContain('POST');
    expect((await call({ method: 'PATCH', url: '/api/v1/jobs/some-job-id' }, 405)).body.error).toBe(
      'METHOD_NOT_ALLOWED',
    );
  });

  it('replays the events of a finished job as SSE and ends the stream', async () => {
    const job = echoJob({});
    await call(post(job), 201);
    await worker.waitFor(job.job_id);
    const res = await app.inject({ method: 'GET', url: `/api/v1/jobs/${job.job_id}/events` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.body.match(/^event: progress$/gm)).toHaveLength(2);
    expect(res.body).toMatch(/event: end\ndata: \{"job_id":"[^"]+","status":"completed"\}\n\n$/);
    const after = await app.inject({ method: 'GET', url: `/api/v1/jobs/${job.job_id}/events?after=0` });
    expect(after.body.match(/^event: progress$/gm)).toHaveLength(1);
    const resumed = await app.inject({
      method: 'GET',
      url: `/api/v1/jobs/${job.job_id}/events`,
      headers: { 'last-event-id': '1' },
    });
    expect(resumed.body.match(/^event: progress$/gm)).toBeNull();
  });
});

describe('worker routes', () => {
  it('serves capabilities, workers and health on both paths', async () => {
    const c = await call({ method: 'GET', url: '/api/v1/capabilities' }, 200, S.CapabilitiesSchema);
    expect(c.body).toMatchObject({ worker_id: worker.id, pool: 'default', max_concurrent_jobs: 2 });
    expect(c.body.operations).toEqual(expect.arrayContaining(['system.echo', 'test.echo']));
    const w = await call({ method: 'GET', url: '/api/v1/workers' }, 200, S.WorkersResponseSchema);
    expect(w.body.total).toBe(1);
    for (const url of ['/api/v1/health', '/health']) {
      const h = await call({ method: 'GET', url }, 200, S.HealthSchema);
      expect(h.body.status).toBe('healthy');
      expect(Object.keys(h.body.checks as object)).toEqual(
        expect.arrayContaining(['store', 'queue', 'libguestfs']),
      );
      expect(h.body.uptime_seconds).toBeGreaterThan(0);
    }
  });

  it('publishes an OpenAPI 3 document with every route, and the docs page', async () => {
    const { body } = await call({ method: 'GET', url: '/openapi.json' }, 200);
    expect(body.openapi).toMatch(/^3\./);
    const paths = body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/api/v1/jobs']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/api/v1/jobs/{id}']).sort()).toEqual(['delete', 'get']);
    expect(Object.keys(paths['/api/v1/jobs/{id}/record'])).toEqual(['delete']);
    for (const p of [
      '/api/v1/jobs/{id}/result',
      '/api/v1/jobs/{id}/submission',
      '/api/v1/jobs/{id}/events',
      '/api/v1/capabilities',
      '/api/v1/workers',
      '/api/v1/health',
    ]) {
      expect(paths[p], p).toHaveProperty('get');
    }
    // The submit body shows each operation's payload.data schema, with an example each.
    const submit = (paths['/api/v1/jobs'].post as { requestBody: { content: Record<string, unknown> } })
      .requestBody.content['application/json'] as {
      schema: { anyOf: { title: string; properties: { payload: { properties: { data: object } } } }[] };
      examples: Record<string, { value: { payload: { data: unknown } } }>;
    };
    expect(submit.schema.anyOf.map((s) => s.title)).toEqual(OPERATION_NAMES);
    const inspect = submit.schema.anyOf.find((s) => s.title === 'guestkit.inspect');
    expect(inspect?.properties.payload.properties.data).toMatchObject({
      required: ['image'],
      properties: { image: { required: ['path'] } },
    });
    expect(Object.keys(submit.examples)).toEqual(OPERATION_NAMES);
    expect(submit.examples['guestkit.fix'].value.payload.data).toEqual(
      OPERATION_PAYLOADS['guestkit.fix'].example,
    );
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });
});

describe('auth, rate limits and failures', () => {
  it('requires the bearer token everywhere but health, and never reads it from the query', async () => {
    const w = createWorker({ store: 'memory' });
    await w.start();
    const a = await buildApi(w, {
      token: 's3cret-token',
      health: { libguestfsProbe: async () => ({ status: 'ok' }) },
    });
    try {
      const get = (url: string, headers: Record<string, string> = {}) =>
        a.inject({ method: 'GET', url, headers });
      const none = await get('/api/v1/jobs');
      expect(none.statusCode).toBe(401);
      expect(JSON.parse(none.body)).toMatchObject({ error: 'UNAUTHORIZED' });
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await get('/api/v1/jobs', { authorization: 'Bearer wrong' })).statusCode).toBe(401);
      expect((await get('/api/v1/jobs', { authorization: 'Bearer s3cret-token-longer' })).statusCode).toBe(
        401,
      );
      expect((await get('/api/v1/jobs', { authorization: 's3cret-token' })).statusCode).toBe(401);
      expect((await get('/api/v1/jobs?token=s3cret-token')).statusCode).toBe(401);
      expect((await get('/api/v1/jobs?access_token=s3cret-token')).statusCode).toBe(401);
      expect((await get('/openapi.json')).statusCode).toBe(401);
      expect((await get('/api/v1/jobs', { authorization: 'Bearer s3cret-token' })).statusCode).toBe(200);
      expect((await get('/api/v1/nothing')).statusCode).toBe(401);
      expect((await get('/health')).statusCode).toBe(200);
      expect((await get('/api/v1/health')).statusCode).toBe(200);
      const sub = await a.inject({ ...post(echoJob()), headers: { authorization: 'bearer s3cret-token' } });
      expect(sub.statusCode).toBe(201);
    } finally {
      await a.close();
      await w.stop();
    }
  });

  it('bearerMatches compares exactly', () => {
    const d = (s: string) => createHash('sha256').update(s).digest();
    expect(bearerMatches('Bearer abc', d('abc'))).toBe(true);
    expect(bearerMatches('Bearer abcd', d('abc'))).toBe(false);
    expect(bearerMatches('Bearer ', d(''))).toBe(false);
    expect(bearerMatches(undefined, d(''))).toBe(false);
  });

  it('rate-limits per client with a 429 envelope when enabled, health exempt', async () => {
    const a = await buildApi(worker, { rateLimit: { max: 3 }, docs: false });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++)
        codes.push((await a.inject({ method: 'GET', url: '/api/v1/jobs?limit=1' })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const r = await a.inject({ method: 'GET', url: '/api/v1/jobs?limit=1' });
      expect(JSON.parse(r.body)).toMatchObject({ error: 'RATE_LIMITED' });
      expect((await a.inject({ method: 'GET', url: '/health' })).statusCode).not.toBe(429);
    } finally {
      await a.close();
    }
  });

  it('reports unhealthy with 503 and internal failures as INTERNAL_ERROR without details', async () => {
    const w = createWorker({ store: 'memory' });
    await w.start();
    const a = await buildApi(w, { docs: false, health: { libguestfsProbe: async () => ({ status: 'ok' }) } });
    await w.stop();
    try {
      const h = await a.inject({ method: 'GET', url: '/health' });
      expect(h.statusCode).toBe(503);
      expect(JSON.parse(h.body)).toMatchObject({
        status: 'unhealthy',
        checks: { store: { status: 'error' } },
      });
      const s = await a.inject({ method: 'GET', url: '/api/v1/jobs/some-job-id' });
      expect(s.statusCode).toBe(500);
      expect(JSON.parse(s.body)).toEqual({
        error: 'INTERNAL_ERROR',
        message: 'Internal server error; see the worker log',
      });
      const sub = await a.inject(post(echoJob()));
      expect(sub.statusCode).toBe(503);
      expect(JSON.parse(sub.body)).toMatchObject({ error: 'WORKER_UNAVAILABLE' });
    } finally {
      await a.close();
    }
  });
});

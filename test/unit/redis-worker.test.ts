// RedisWorker in one process against the suite's redis-server: an API-role node and worker-role
// nodes sharing one prefix. Capability routing (pending with a reason, released not failed),
// retries through BullMQ's delayed set, cancel across nodes, relayed status events, membership.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, type WorkerConfigInput } from '../../src/config.js';
import { Membership } from '../../src/distributed/members.js';
import { RedisJobStore } from '../../src/distributed/store.js';
import { canonicalJson } from '../../src/protocol/parse.js';
import { validateEnvelope } from '../../src/protocol/validate.js';
import { createRedisWorker, type RedisWorker } from '../../src/distributed/worker.js';
import { systemEchoHandler, testEchoHandler } from '../../src/handlers/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { JobHandler } from '../../src/handlers/types.js';
import { WorkerError } from '../../src/protocol/errors.js';

const url = process.env.GUESTKIT_TEST_REDIS_URL;
const dir = mkdtempSync(join(tmpdir(), 'gk-redis-worker-'));
const prefix = `t-worker-${process.pid}-${Date.now()}:`;
const nodes: RedisWorker[] = [];

let flakyRuns = 0;
const flaky: JobHandler<unknown> = {
  operation: 'test.flaky',
  payloadTypes: ['test.flaky.v1'],
  description: 'fails recoverably on its first run',
  validate: (d) => d,
  async run() {
    flakyRuns++;
    if (flakyRuns === 1) throw new WorkerError('EXECUTION_ERROR', 'first run fails', { recoverable: true });
    return { data: { runs: flakyRuns } };
  },
};

/** Handlers that report the status their job had in Redis while they ran. */
const peekStore = new RedisJobStore({ redis: url ?? 'redis://127.0.0.1:1', prefix, eventsPerJob: 10 });
function peek(operation: string, pure: boolean): JobHandler<unknown> {
  return {
    operation,
    payloadTypes: [`${operation}.v1`],
    validate: (d) => d,
    pure,
    async run(ctx) {
      return { data: { seen: (await peekStore.get(ctx.jobId))?.status } };
    },
  };
}

function registry(): HandlerRegistry {
  return new HandlerRegistry()
    .register(systemEchoHandler)
    .register(testEchoHandler)
    .register(flaky)
    .register(peek('test.peek', false))
    .register(peek('test.peek-pure', true));
}

async function node(
  role: 'api' | 'worker',
  workerId: string,
  features: string[] = [],
  extra: WorkerConfigInput = {},
) {
  const config = resolveConfig(
    {
      transport: 'redis',
      redisUrl: url,
      role,
      workerId,
      stateDir: join(dir, 'state'),
      workDir: dir,
      maxConcurrent: 2,
      retry: { baseDelayMs: 300, maxDelayMs: 1000 },
      drainTimeoutMs: 3000,
      ...extra,
    },
    {},
  );
  const w = createRedisWorker(config, {
    registry: registry(),
    featureProbes: [async () => features],
    tuning: { prefix, stallMs: 3000, heartbeatMs: 1000, releaseDelayMs: 200, queueStatsMs: 300 },
  });
  nodes.push(w);
  await w.start();
  return w;
}

function job(id: string, extra: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    version: '1.0',
    job_id: id,
    created_at: new Date().toISOString(),
    kind: 'VMOperation',
    operation: 'test.echo',
    payload: { type: 'test.echo.v1', data },
    ...extra,
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  for (const n of nodes.reverse()) await n.stop({ drainTimeoutMs: 1000 }).catch(() => undefined);
  await peekStore.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!url)('RedisWorker (api and worker nodes in one process)', () => {
  it('routes by capability: waits with a reason, is released not failed, runs where it fits', async () => {
    const api = await node('api', 'api-1');
    const plain = await node('worker', 'worker-plain');
    await until('the plain worker to register', async () => (await api.workers()).length === 1);

    await api.submit(job('job-gpu-0001', { constraints: { required_features: ['gpu'] } }));
    const waiting = await api.get('job-gpu-0001');
    expect(waiting?.status).toBe('pending');
    // Either the API node's verdict (no live worker fits) or, if it was quick, the worker's release.
    expect(waiting?.progress?.message).toMatch(
      /no live worker in pool 'default' meets.*worker-plain: features \[gpu\]|Released by worker-plain: features \[gpu\]/,
    );
    // The plain worker pulls it, cannot run it and puts it back: still pending, now saying so.
    await until('the release', async () =>
      (await api.get('job-gpu-0001'))?.progress?.message.startsWith('Released by worker-plain'),
    );
    expect((await api.get('job-gpu-0001'))?.status).toBe('pending');

    const gpu = await node('worker', 'worker-gpu', ['gpu']);
    const done = await api.waitFor('job-gpu-0001');
    expect(done).toMatchObject({ status: 'completed', worker_id: 'worker-gpu', attempt: 1 });
    const names = (await api.workers()).map((w) => w.worker_id);
    expect(names).toEqual(['worker-gpu', 'worker-plain']);
    await gpu.stop();
    expect((await api.workers()).map((w) => w.worker_id)).toEqual(['worker-plain']);
    void plain;
  });

  it('retries a recoverable failure after a backoff, as the next attempt', async () => {
    const api = nodes[0];
    await api.submit({
      ...job('job-flaky-0001', { execution: { max_attempts: 2 } }),
      operation: 'test.flaky',
      payload: { type: 'test.flaky.v1', data: {} },
    });
    const done = await api.waitFor('job-flaky-0001');
    expect(done).toMatchObject({ status: 'completed', attempt: 2 });
    expect((await api.result('job-flaky-0001'))?.execution_summary.attempt).toBe(2);
    const trail = (await api.history('job-flaky-0001')).map((h) => h.to);
    expect(trail).toEqual(['pending', 'assigned', 'running', 'pending', 'assigned', 'running', 'completed']);
  });

  it("holds a first run's start only for a pure handler's cancellable job", async () => {
    const api = nodes[0];
    const seen = async (id: string, operation: string, cancellable = true) => {
      await api.submit({
        ...job(id, { execution: { cancellable } }),
        operation,
        payload: { type: `${operation}.v1`, data: {} },
      });
      expect(await api.waitFor(id)).toMatchObject({ status: 'completed' });
      return (await api.result(id))?.data;
    };
    // Held: the handler runs while Redis still says pending; its whole life is written at its end.
    expect(await seen('job-peek-0001', 'test.peek-pure')).toEqual({ seen: 'pending' });
    const history = await api.history('job-peek-0001');
    expect(history.map((h) => h.to)).toEqual(['pending', 'assigned', 'running', 'completed']);
    expect(history[2].at).toBeLessThanOrEqual(history[3].at);
    // Not held: a handler with side effects, or a job that must not be cancelled once it runs.
    expect(await seen('job-peek-0002', 'test.peek')).toEqual({ seen: 'running' });
    expect(await seen('job-peek-0003', 'test.peek-pure', false)).toEqual({ seen: 'running' });
  });

  it('cancels a job running on another node: its signal fires there', async () => {
    const api = nodes[0];
    const seen: string[] = [];
    api.on('status', (e) => {
      if (e.job_id === 'job-cancel-0001') seen.push(e.to);
    });
    await api.submit(job('job-cancel-0001', {}, { sleep_ms: 30_000 }));
    await until('running', async () => (await api.get('job-cancel-0001'))?.status === 'running');
    const t0 = Date.now();
    expect(await api.cancel('job-cancel-0001')).toMatchObject({ outcome: 'stopping' });
    const done = await api.waitFor('job-cancel-0001');
    expect(done.status).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(20_000);
    const result = await api.result('job-cancel-0001');
    expect(result).toMatchObject({ worker_id: 'worker-plain', error: { code: 'CANCELLED' } });
    // The worker's status events reached the API node over pub/sub.
    // (the store can say cancelled a moment before the event arrives: wait for it)
    await until('the relayed cancelled event', async () => seen.includes('cancelled'));
    expect(seen).toEqual(expect.arrayContaining(['assigned', 'running', 'cancelled']));
    // A pending job is cancelled at once by the API node.
    await api.submit(job('job-cancel-0002', { constraints: { required_features: ['none-has-this'] } }));
    expect(await api.cancel('job-cancel-0002')).toMatchObject({ outcome: 'cancelled' });
    expect(await api.cancel('job-cancel-0002')).toMatchObject({ outcome: 'already_terminal' });
  });

  it('stops a run once told another worker took its attempt over', async () => {
    const api = nodes[0];
    await api.submit(job('job-takeover-0001', {}, { sleep_ms: 20_000 }));
    await until('running', async () => (await api.get('job-takeover-0001'))?.status === 'running');
    const { Redis } = await import('ioredis');
    const r = new Redis(url as string);
    // Attempt 2 says nothing about attempt 1's run … attempt 1 does.
    await r.publish(`${prefix}takeover`, '0|job-takeover-0001');
    await new Promise((res) => setTimeout(res, 300));
    expect((await api.get('job-takeover-0001'))?.attempt).toBe(1);
    const t0 = Date.now();
    await r.publish(`${prefix}takeover`, '1|job-takeover-0001');
    await r.quit();
    // Nobody really took it over here, so the interrupted run re-queues itself as attempt 2.
    await until('attempt 2', async () => (await api.get('job-takeover-0001'))?.attempt === 2);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((await api.history('job-takeover-0001')).map((h) => h.to)).toEqual(
      expect.arrayContaining(['running', 'pending', 'assigned']),
    );
    expect(await api.cancel('job-takeover-0001')).toMatchObject({
      outcome: expect.stringMatching(/stopping|cancelled/),
    });
    expect((await api.waitFor('job-takeover-0001')).status).toBe('cancelled');
  });

  it('answers duplicates and idempotency keys like the local worker', async () => {
    const api = nodes[0];
    const doc = job('job-dup-0001', { execution: { idempotency_key: 'idem-1' } });
    expect(await api.submit(doc)).toMatchObject({ created: true });
    expect(await api.submit(doc)).toMatchObject({ created: false, reason: 'same_document' });
    await expect(api.submit({ ...doc, metadata: { name: 'x' } })).rejects.toMatchObject({
      code: 'DUPLICATE_JOB_ID',
    });
    await api.waitFor('job-dup-0001');
    expect(await api.submit({ ...doc, job_id: 'job-dup-0002' })).toMatchObject({
      job_id: 'job-dup-0001',
      created: false,
      reason: 'idempotency_key',
    });
    await expect(api.submit(job('bad:pool-0001', { routing: { worker_pool: 'a b' } }))).rejects.toMatchObject(
      {
        code: 'VALIDATION_ERROR',
      },
    );
  });

  it('a starting worker queues pending jobs an API node stored but never queued', async () => {
    const api = nodes[0];
    const { envelope, execution } = validateEnvelope(job('job-orphan-0001'));
    const store = new RedisJobStore({ redis: url as string, prefix, eventsPerJob: 10 });
    const created = await store.create(
      {
        job_id: envelope.job_id,
        operation: envelope.operation,
        payload_type: envelope.payload.type,
        attempt: 1,
        execution,
        submitted_at: Date.now(),
        envelope,
        source: 'library',
        document: canonicalJson(envelope),
      },
      'default',
    );
    await store.close();
    expect(created.kind).toBe('created');
    await new Promise((r) => setTimeout(r, 500));
    expect((await api.get('job-orphan-0001'))?.status).toBe('pending');
    await node('worker', 'worker-late');
    expect((await api.waitFor('job-orphan-0001')).status).toBe('completed');
  });

  it('a worker stopped past its drain timeout hands its running job to another worker', async () => {
    const api = nodes[0];
    const leaving = await node('worker', 'worker-leaving', ['leaving-only']);
    await api.submit(
      job('job-drain-0001', { constraints: { required_features: ['leaving-only'] } }, { sleep_ms: 2500 }),
    );
    await until('running on the leaving worker', async () => {
      const d = await api.get('job-drain-0001');
      return d?.status === 'running' && d.worker_id === 'worker-leaving';
    });
    await leaving.stop({ drainTimeoutMs: 200 });
    const back = await api.get('job-drain-0001');
    expect(back).toMatchObject({ status: 'pending', attempt: 2 });
    // Only the leaving worker had the feature: a new one with it picks the job up.
    await node('worker', 'worker-arriving', ['leaving-only']);
    expect(await api.waitFor('job-drain-0001')).toMatchObject({
      status: 'completed',
      attempt: 2,
      worker_id: 'worker-arriving',
    });
  });

  it('forgets a worker whose heartbeat key expired', async () => {
    const api = nodes[0];
    const { Redis } = await import('ioredis');
    const r = new Redis(url as string);
    const m = new Membership(r, prefix);
    const reg = { ...(await api.capabilities()), worker_id: 'ghost-worker' };
    await m.publish(reg, 300);
    expect((await api.workers()).map((w) => w.worker_id)).toContain('ghost-worker');
    await until('the ghost to expire', async () =>
      (await api.workers()).every((w) => w.worker_id !== 'ghost-worker'),
    );
    await r.quit();
  });
});

// One contract, both queues: the local worker (SQLite + scheduler) and the distributed one
// (BullMQ + Redis, the suite's real redis-server) must behave the same for the status machine,
// idempotency, cancel in every state and priorities. A missing Redis fails, it does not skip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { systemEchoHandler, testEchoHandler } from '../../src/handlers/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { createWorkerFor } from '../../src/worker/factory.js';
import type { StatusChangeEvent, Worker } from '../../src/worker/types.js';
import { echo, until } from './worker-helpers.js';

const ADAPTERS = ['local', 'redis'] as const;
let open: { worker: Worker; dir: string }[] = [];

async function start(adapter: (typeof ADAPTERS)[number]): Promise<Worker> {
  const url = process.env.GUESTKIT_TEST_REDIS_URL;
  if (adapter === 'redis' && !url)
    throw new Error('GUESTKIT_TEST_REDIS_URL unset: the suite starts redis-server');
  const dir = mkdtempSync(join(tmpdir(), `gk-contract-${adapter}-`));
  const config = resolveConfig(
    {
      transport: adapter === 'redis' ? 'redis' : 'file',
      redisUrl: url,
      role: 'all',
      stateDir: dir,
      workDir: dir,
      maxConcurrent: 1,
      api: { enabled: false },
      redis: { prefix: `t-contract-${process.pid}-${Date.now()}:`, stallMs: 3000, heartbeatMs: 500 },
    },
    {},
  );
  const worker = createWorkerFor(config, {
    registry: new HandlerRegistry().register(systemEchoHandler).register(testEchoHandler),
    featureProbes: [async () => []],
  });
  await worker.start();
  open.push({ worker, dir });
  return worker;
}

afterEach(async () => {
  for (const { worker, dir } of open) {
    await worker.stop({ drainTimeoutMs: 0 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  open = [];
});

describe.each(ADAPTERS)('worker contract: %s queue', (adapter) => {
  it('walks pending → assigned → running → completed, each transition announced once', async () => {
    const w = await start(adapter);
    const seen: StatusChangeEvent[] = [];
    w.on('status', (e) => seen.push(e));
    const j = echo({ message: 'hi' });
    expect(await w.submit(j)).toEqual({ job_id: j.job_id, status: 'pending', created: true });
    expect((await w.waitFor(j.job_id)).status).toBe('completed');
    await until(() => seen.some((e) => e.job_id === j.job_id && e.to === 'completed'));
    const path = seen.filter((e) => e.job_id === j.job_id).map((e) => `${e.from}>${e.to}`);
    expect(path).toEqual(['null>pending', 'pending>assigned', 'assigned>running', 'running>completed']);
    expect((await w.result(j.job_id))?.status).toBe('completed');
  });

  it('result(jobId, operation) types the data after checking the job is that operation', async () => {
    const w = await start(adapter);
    const j = echo({ message: 'typed' });
    await w.waitFor((await w.submit(j)).job_id);
    const r = await w.result(j.job_id, 'system.echo');
    expect(r?.status).toBe('completed');
    if (r?.status === 'completed') expect(r.data.echo).toEqual({ message: 'typed' });
    await expect(w.result(j.job_id, 'guestkit.inspect')).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: `Job ${j.job_id} is a system.echo job, not guestkit.inspect; ask for its result as system.echo`,
    });
    expect(await w.result('job-unknown', 'guestkit.inspect')).toBeUndefined();
  });

  it('idempotency: the same document and a completed key create nothing new', async () => {
    const w = await start(adapter);
    const j = echo({}, (b) => b.idempotencyKey(`k-${adapter}-${Date.now()}`));
    await w.submit(j);
    expect(await w.submit(j)).toMatchObject({ created: false, reason: 'same_document' });
    await w.waitFor(j.job_id);
    const again = echo({}, (b) => b.idempotencyKey(j.execution!.idempotency_key!));
    expect(await w.submit(again)).toMatchObject({
      job_id: j.job_id,
      created: false,
      reason: 'idempotency_key',
    });
  });

  it('shows the submission and its history; deletes finished jobs only, with their key and counts', async () => {
    const w = await start(adapter);
    const key = `del-${adapter}-${Date.now()}`;
    const j = echo({ n: 1 }, (b) => b.idempotencyKey(key));
    const live = echo({ sleep_ms: 5000 });
    await w.submit(j);
    await w.waitFor(j.job_id);
    const sub = await w.submitted(j.job_id);
    expect(sub?.envelope).toEqual(j);
    expect(sub?.history.map((h) => `${h.from}>${h.to}`)).toEqual([
      'null>pending',
      'pending>assigned',
      'assigned>running',
      'running>completed',
    ]);
    await w.submit(live);
    expect(await w.remove(live.job_id)).toMatchObject({ outcome: 'not_terminal' });
    const before = (await w.counts()).completed;
    expect(await w.remove(j.job_id)).toEqual({ outcome: 'deleted', job_id: j.job_id });
    expect(await w.get(j.job_id)).toBeUndefined();
    expect(await w.result(j.job_id)).toBeUndefined();
    expect(await w.submitted(j.job_id)).toBeUndefined();
    expect(await w.events(j.job_id)).toEqual([]);
    expect((await w.counts()).completed).toBe(before - 1);
    expect((await w.list({ limit: 1000 })).jobs.map((x) => x.job_id)).not.toContain(j.job_id);
    expect(await w.remove(j.job_id)).toEqual({ outcome: 'not_found', job_id: j.job_id });
    // The key no longer answers with the deleted job: a new document with it is a new job.
    const again = echo({ n: 2 }, (b) => b.idempotencyKey(key));
    expect(await w.submit(again)).toMatchObject({ job_id: again.job_id, created: true });
    await w.cancel(live.job_id);
  });

  it('cancel in every state: not found, pending, running, terminal; priorities order the queue', async () => {
    const w = await start(adapter);
    expect(await w.cancel('job-nope')).toEqual({ outcome: 'not_found', job_id: 'job-nope' });
    const started: string[] = [];
    w.on('status', (e) => {
      if (e.to === 'running') started.push(e.job_id);
    });
    const blocker = echo({ sleep_ms: 30_000 });
    await w.submit(blocker);
    await until(async () => (await w.get(blocker.job_id))?.status === 'running');
    const queued = echo({ sleep_ms: 30_000 });
    const low = echo({}, (b) => b.priority(1));
    const high = echo({}, (b) => b.priority(10));
    for (const j of [queued, low, high]) await w.submit(j);
    expect(await w.cancel(queued.job_id)).toMatchObject({ outcome: 'cancelled', status: 'cancelled' });
    expect(await w.cancel(blocker.job_id)).toMatchObject({ outcome: 'stopping', status: 'running' });
    expect((await w.waitFor(blocker.job_id)).status).toBe('cancelled');
    expect(await w.cancel(blocker.job_id)).toMatchObject({
      outcome: 'already_terminal',
      status: 'cancelled',
    });
    await w.waitFor(low.job_id);
    expect((await w.get(queued.job_id))?.status).toBe('cancelled');
    expect(started.filter((id) => id !== blocker.job_id)).toEqual([high.job_id, low.job_id]);
  });
});

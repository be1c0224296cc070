import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext, JobHandler } from '../../src/handlers/types.js';
import { HandlerError, WorkerError } from '../../src/protocol/errors.js';
import { ResultDocumentSchema, type JobStatus } from '../../src/protocol/schema.js';
import type { StatusChangeEvent } from '../../src/worker/types.js';
import { echo, job, sleep, startTestWorker, until, type TestWorker } from './worker-helpers.js';

let t: TestWorker | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

function handler(
  operation: string,
  run: (ctx: HandlerContext<unknown>) => Promise<unknown>,
): JobHandler<unknown> {
  return {
    operation,
    payloadTypes: [`${operation}.v1`],
    validate: (d) => d,
    run: async (ctx) => ({ data: await run(ctx) }),
  };
}

describe('status machine', () => {
  it('walks pending → assigned → running → completed and stores a valid result document', async () => {
    t = await startTestWorker();
    const transitions: [JobStatus | null, JobStatus][] = [];
    t.worker.on('status', (e) => transitions.push([e.from, e.to]));
    const finished: string[] = [];
    t.worker.on('job:finished', (e) => finished.push(`${e.operation}:${e.status}`));
    const j = echo({ a: 1 });
    expect(await t.worker.submit(j)).toEqual({ job_id: j.job_id, status: 'pending', created: true });
    const done = await t.worker.waitFor(j.job_id);
    expect(done.status).toBe('completed');
    expect(transitions).toEqual([
      [null, 'pending'],
      ['pending', 'assigned'],
      ['assigned', 'running'],
      ['running', 'completed'],
    ]);
    expect(finished).toEqual(['system.echo:completed']);
    const result = await t.worker.result(j.job_id);
    expect(Value.Check(ResultDocumentSchema, result)).toBe(true);
    expect(result?.data).toEqual({ echo: { a: 1 }, message: 'Echo handler executed successfully' });
    expect(done.started_at && done.completed_at && done.started_at <= done.completed_at).toBe(true);
    // progress: sequence 0,1 stored and the latest shown in the status document
    const events = await t.worker.events(j.job_id);
    expect(events.map((e) => e.sequence)).toEqual([0, 1]);
    expect(done.progress).toEqual({ phase: 'result_generation', percent: 100, message: 'Echo finished' });
    expect(await t.worker.events(j.job_id, 0)).toHaveLength(1);
  });

  it('never runs more than max_concurrent jobs at once', async () => {
    t = await startTestWorker({ maxConcurrent: 3 });
    let running = 0;
    let peak = 0;
    t.worker.on('status', (e) => {
      if (e.to === 'running') peak = Math.max(peak, ++running);
      if (e.from === 'running') running--;
    });
    const jobs = Array.from({ length: 10 }, () => echo({ sleep_ms: 80 }));
    for (const j of jobs) await t.worker.submit(j);
    await Promise.all(jobs.map((j) => t!.worker.waitFor(j.job_id)));
    expect(peak).toBe(3);
    expect((await t.worker.counts()).completed).toBe(10);
  });

  it('starts pending jobs by priority (high first), then by submission order', async () => {
    t = await startTestWorker({ maxConcurrent: 1 });
    const order: string[] = [];
    t.worker.on('status', (e) => e.to === 'running' && order.push(e.job_id));
    const blocker = echo({ sleep_ms: 150 });
    await t.worker.submit(blocker);
    await until(() => order.length === 1);
    const prios = [3, 9, 5, 9, 1, 10, 5];
    const jobs = prios.map((p, i) => echo({ i }, (b) => b.jobId(`job-prio-${i}-xxxx`).priority(p)));
    for (const j of jobs) await t.worker.submit(j);
    await Promise.all(jobs.map((j) => t!.worker.waitFor(j.job_id)));
    expect(order.slice(1)).toEqual([
      'job-prio-5-xxxx', // 10
      'job-prio-1-xxxx', // 9, submitted first
      'job-prio-3-xxxx', // 9
      'job-prio-2-xxxx', // 5, submitted first
      'job-prio-6-xxxx', // 5
      'job-prio-0-xxxx', // 3
      'job-prio-4-xxxx', // 1
    ]);
  });
});

describe('timeouts and deadlines', () => {
  it('timeout aborts the handler: the work really stops and the status is timeout', async () => {
    t = await startTestWorker();
    let ticks = 0;
    let sawAbort = false;
    t.registry.register(
      handler('test.spin', async (ctx) => {
        while (!ctx.signal.aborted) {
          ticks++;
          await sleep(10);
        }
        sawAbort = true;
        throw ctx.signal.reason;
      }),
    );
    const j = job('test.spin', {}, (b) => b.timeout(1));
    await t.worker.submit(j);
    const done = await t.worker.waitFor(j.job_id);
    expect(done.status).toBe('timeout');
    expect(done.error?.code).toBe('TIMEOUT');
    // Not before its timeout (a lower bound: load can only make it later).
    expect(Date.parse(done.completed_at!) - Date.parse(done.started_at!)).toBeGreaterThanOrEqual(950);
    await sleep(30);
    expect(sawAbort).toBe(true);
    const frozen = ticks;
    await sleep(100);
    expect(ticks).toBe(frozen);
    const result = await t.worker.result(j.job_id);
    expect(result?.status).toBe('timeout');
    expect(result?.failed_at).toBeDefined();
  });

  it('records timeout even when a buggy handler ignores its signal', async () => {
    t = await startTestWorker();
    let release: (v: string) => void = () => undefined;
    let returned = false;
    const late = new Promise<string>((r) => (release = r));
    t.registry.register(handler('test.stubborn', () => late.then((v) => ((returned = true), v))));
    const j = job('test.stubborn', {}, (b) => b.timeout(1));
    await t.worker.submit(j);
    const done = await t.worker.waitFor(j.job_id);
    // Recorded while the handler still ignores its signal (order, not a stopwatch).
    expect(done.status).toBe('timeout');
    expect(returned).toBe(false);
    release('late');
    await until(() => returned);
    expect((await t.worker.get(j.job_id))?.status).toBe('timeout');
  });

  it('echo sleep is cut short by the timeout', async () => {
    t = await startTestWorker();
    const j = echo({ sleep_ms: 30_000 }, (b) => b.timeout(1));
    await t.worker.submit(j);
    const done = await t.worker.waitFor(j.job_id);
    expect(done.status).toBe('timeout');
    // It ended well before its 30 s sleep would have.
    expect(Date.parse(done.completed_at!) - Date.parse(done.started_at!)).toBeLessThan(29_000);
  });

  it('a deadline in the past fails the job with DEADLINE_EXCEEDED without running it', async () => {
    t = await startTestWorker();
    let ran = false;
    t.registry.register(handler('test.flag', async () => (ran = true)));
    const j = job('test.flag', {}, (b) => b.deadline(new Date(Date.now() - 1000)));
    await t.worker.submit(j);
    const done = await t.worker.waitFor(j.job_id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('DEADLINE_EXCEEDED');
    expect(ran).toBe(false);
    expect((await t.worker.result(j.job_id))?.error?.code).toBe('DEADLINE_EXCEEDED');
  });

  it('a deadline reached while running stops the job (timeout, DEADLINE_EXCEEDED)', async () => {
    t = await startTestWorker();
    const j = echo({ sleep_ms: 30_000 }, (b) => b.deadline(new Date(Date.now() + 300)));
    await t.worker.submit(j);
    const done = await t.worker.waitFor(j.job_id);
    expect(done.status).toBe('timeout');
    expect(done.error?.code).toBe('DEADLINE_EXCEEDED');
  });
});

describe('retries', () => {
  it('retries recoverable failures with attempts 1..n and stops at max_attempts', async () => {
    t = await startTestWorker();
    const seen: { attempt: number; at: number }[] = [];
    t.registry.register(
      handler('test.flaky', async (ctx) => {
        seen.push({ attempt: ctx.attempt, at: Date.now() });
        throw new HandlerError('APPLIANCE_ERROR', 'appliance died', {
          recoverable: true,
          phase: 'disk_attach',
        });
      }),
    );
    const statuses: string[] = [];
    const j = job('test.flaky', {}, (b) => b.maxAttempts(3));
    t.worker.on('status', (e) => e.job_id === j.job_id && statuses.push(`${e.to}@${e.attempt}`));
    await t.worker.submit(j);
    const done = await t.worker.waitFor(j.job_id);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    // backoff 20 ms then 40 ms
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(18);
    expect(seen[2].at - seen[1].at).toBeGreaterThanOrEqual(38);
    expect(done).toMatchObject({ status: 'failed', attempt: 3 });
    expect(done.error).toMatchObject({ code: 'APPLIANCE_ERROR', phase: 'disk_attach', recoverable: true });
    expect(statuses).toEqual([
      'pending@1',
      'assigned@1',
      'running@1',
      'pending@2',
      'assigned@2',
      'running@2',
      'pending@3',
      'assigned@3',
      'running@3',
      'failed@3',
    ]);
    expect((await t.worker.result(j.job_id))?.execution_summary.attempt).toBe(3);
  });

  it('does not retry unrecoverable failures; a later success ends the retries', async () => {
    t = await startTestWorker();
    let calls = 0;
    t.registry.register(
      handler('test.fatal', async () => {
        calls++;
        throw new HandlerError('NO_OPERATING_SYSTEM', 'no OS found');
      }),
    );
    t.registry.register(
      handler('test.second', async (ctx) => {
        if (ctx.attempt < 2) throw new HandlerError('EXECUTION_ERROR', 'transient', { recoverable: true });
        return 'ok';
      }),
    );
    const a = job('test.fatal', {}, (b) => b.maxAttempts(5));
    const b2 = job('test.second', {}, (b) => b.maxAttempts(5));
    await t.worker.submit(a);
    await t.worker.submit(b2);
    expect((await t.worker.waitFor(a.job_id)).status).toBe('failed');
    expect(calls).toBe(1);
    expect(await t.worker.waitFor(b2.job_id)).toMatchObject({ status: 'completed', attempt: 2 });
  });

  it('a timeout is retried while attempts remain', async () => {
    t = await startTestWorker();
    const attempts: number[] = [];
    t.registry.register(
      handler('test.slowfirst', async (ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) await sleep(5000);
        return 'fast';
      }),
    );
    const j = job('test.slowfirst', {}, (b) => b.timeout(1).maxAttempts(2));
    await t.worker.submit(j);
    expect(await t.worker.waitFor(j.job_id)).toMatchObject({ status: 'completed', attempt: 2 });
    expect(attempts).toEqual([1, 2]);
  });
});

describe('handler failures never crash the worker', () => {
  it('unknown exceptions become EXECUTION_ERROR; thrown strings too', async () => {
    t = await startTestWorker();
    t.registry.register(
      handler('test.bug', async () => {
        throw new TypeError('undefined is not a function');
      }),
    );
    t.registry.register(
      handler('test.str', async () => {
        throw 'plain string';
      }),
    );
    const a = job('test.bug');
    const b = job('test.str');
    await t.worker.submit(a);
    await t.worker.submit(b);
    expect((await t.worker.waitFor(a.job_id)).error).toMatchObject({
      code: 'EXECUTION_ERROR',
      message: 'undefined is not a function',
      recoverable: false,
    });
    expect((await t.worker.waitFor(b.job_id)).error?.message).toBe('plain string');
    const handlerEvents: string[] = [];
    t.worker.on('handler:executed', (e) => handlerEvents.push(`${e.handler}:${e.status}`));
    const c = echo();
    await t.worker.submit(c);
    await t.worker.waitFor(c.job_id);
    expect(handlerEvents).toEqual(['system.echo:success']);
  });
});

describe('cancel', () => {
  it('cancels a pending job at once; it never runs', async () => {
    t = await startTestWorker({ maxConcurrent: 1 });
    const blocker = echo({ sleep_ms: 200 });
    const victim = echo({ n: 2 });
    const started: string[] = [];
    t.worker.on('status', (e) => e.to === 'running' && started.push(e.job_id));
    await t.worker.submit(blocker);
    await t.worker.submit(victim);
    expect(await t.worker.cancel(victim.job_id)).toEqual({
      outcome: 'cancelled',
      job_id: victim.job_id,
      status: 'cancelled',
    });
    await t.worker.waitFor(blocker.job_id);
    await sleep(30);
    expect(started).toEqual([blocker.job_id]);
    const r = await t.worker.result(victim.job_id);
    expect(r).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(await t.worker.cancel(victim.job_id)).toMatchObject({ outcome: 'already_terminal' });
    expect(await t.worker.cancel('job-does-not-exist')).toEqual({
      outcome: 'not_found',
      job_id: 'job-does-not-exist',
    });
  });

  it('stops a running job like a timeout; refuses when cancellable is false', async () => {
    t = await startTestWorker();
    const a = echo({ sleep_ms: 30_000 });
    const b = echo({ sleep_ms: 300 }, (x) => x.cancellable(false));
    await t.worker.submit(a);
    await t.worker.submit(b);
    await until(async () => (await t!.worker.get(a.job_id))?.status === 'running');
    await until(async () => (await t!.worker.get(b.job_id))?.status === 'running');
    expect(await t.worker.cancel(a.job_id)).toMatchObject({ outcome: 'stopping', status: 'running' });
    expect(await t.worker.cancel(b.job_id)).toMatchObject({ outcome: 'not_cancellable' });
    const cancelled = await t.worker.waitFor(a.job_id);
    expect(cancelled.status).toBe('cancelled');
    // Stopped, not slept out: it ended well before its 30 s sleep would have.
    expect(Date.parse(cancelled.completed_at!) - Date.parse(cancelled.started_at!)).toBeLessThan(29_000);
    expect((await t.worker.waitFor(b.job_id)).status).toBe('completed');
  });
});

describe('submission checks', () => {
  async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(WorkerError);
      return `${(err as WorkerError).code}: ${(err as Error).message}`;
    }
    return 'accepted';
  }

  it('refuses unknown operations, constraint mismatches and bad payloads with the right code', async () => {
    t = await startTestWorker({ pool: 'blue', maxDiskSizeGb: 100 });
    const w = t.worker;
    expect(await codeOf(w.submit(job('guestkit.teleport')))).toMatch(
      /^UNSUPPORTED_OPERATION: Unsupported operation: guestkit.teleport/,
    );
    expect(
      await codeOf(
        w.submit(
          echo({}, (b) => b.constraints({ required_capabilities: ['system.echo', 'guestkit.teleport'] })),
        ),
      ),
    ).toMatch(/^CAPABILITY_MISMATCH: .*capabilities \[guestkit.teleport\]/);
    expect(
      await codeOf(w.submit(echo({}, (b) => b.constraints({ required_capabilities: ['qcow2', 'raw'] })))),
    ).toBe('accepted');
    expect(
      await codeOf(w.submit(echo({}, (b) => b.constraints({ required_features: ['inspect_icon'] })))),
    ).toMatch(/^CAPABILITY_MISMATCH: .*features \[inspect_icon\]/);
    expect(
      await codeOf(w.submit(echo({}, (b) => b.constraints({ minimum_worker_version: '99.0.0' })))),
    ).toMatch(/^CAPABILITY_MISMATCH: .*worker version 99.0.0 or later/);
    expect(await codeOf(w.submit(echo({}, (b) => b.constraints({ allowed_worker_pools: ['red'] }))))).toMatch(
      /^CAPABILITY_MISMATCH: .*pool \[red\]/,
    );
    expect(await codeOf(w.submit(echo({}, (b) => b.constraints({ maximum_disk_size_gb: 500 }))))).toMatch(
      /^CAPABILITY_MISMATCH: .*disks up to 500 GB/,
    );
    expect(await codeOf(w.submit(echo({ sleep_ms: 60_001 })))).toMatch(/^VALIDATION_ERROR: .*sleep_ms/);
    expect(await codeOf(w.submit({ ...echo(), payload: { type: 'system.echo.v9', data: {} } }))).toMatch(
      /^VALIDATION_ERROR: Invalid field value: payload.type - 'system.echo.v9' is not supported/,
    );
    expect(await codeOf(w.submit({ ...echo(), version: '3' }))).toBe(
      'VALIDATION_ERROR: Unsupported protocol version: 3',
    );
    t.registry.register({
      operation: 'test.badvalidate',
      payloadTypes: ['test.badvalidate.v1'],
      validate: () => {
        throw new TypeError('cannot read properties of undefined');
      },
      run: async () => ({ data: null }),
    });
    expect(await codeOf(w.submit(job('test.badvalidate')))).toBe(
      'VALIDATION_ERROR: Invalid payload for test.badvalidate: TypeError: cannot read properties of undefined',
    );
  });

  it('DUPLICATE_JOB_ID for another document with the same id; the same document is idempotent', async () => {
    t = await startTestWorker();
    const j = echo({ v: 1 });
    await t.worker.submit(j);
    expect(await t.worker.submit(structuredClone(j))).toMatchObject({
      job_id: j.job_id,
      created: false,
      reason: 'same_document',
    });
    expect(await codeOf(t.worker.submit({ ...j, payload: { ...j.payload, data: { v: 2 } } }))).toMatch(
      /^DUPLICATE_JOB_ID/,
    );
  });

  it('idempotency key: in flight → DUPLICATE_IN_PROGRESS; completed → earlier id and result, also after a restart', async () => {
    t = await startTestWorker();
    let runs = 0;
    t.registry.register(
      handler('test.count', async () => {
        runs++;
        await sleep(100);
        return { run: runs };
      }),
    );
    const first = job('test.count', {}, (b) => b.idempotencyKey('key-1'));
    await t.worker.submit(first);
    expect(await codeOf(t.worker.submit(job('test.count', {}, (b) => b.idempotencyKey('key-1'))))).toMatch(
      /^DUPLICATE_IN_PROGRESS/,
    );
    await t.worker.waitFor(first.job_id);
    const again = await t.worker.submit(job('test.count', {}, (b) => b.idempotencyKey('key-1')));
    expect(again).toEqual({
      job_id: first.job_id,
      status: 'completed',
      created: false,
      reason: 'idempotency_key',
    });
    const firstResult = await t.worker.result(first.job_id);
    expect(firstResult?.execution_summary.idempotency_key).toBe('key-1');
    await t.worker.stop();

    const w2 = await t.restart();
    const afterRestart = await w2.submit(job('test.count', {}, (b) => b.idempotencyKey('key-1')));
    expect(afterRestart).toMatchObject({ job_id: first.job_id, created: false });
    expect(await w2.result(afterRestart.job_id)).toEqual(firstResult);
    expect(runs).toBe(1);
  });

  it('a key whose job failed may run again', async () => {
    t = await startTestWorker();
    let n = 0;
    t.registry.register(
      handler('test.failonce', async () => {
        if (n++ === 0) throw new HandlerError('EXECUTION_ERROR', 'first run fails');
        return 'ok';
      }),
    );
    const a = job('test.failonce', {}, (b) => b.idempotencyKey('k-f'));
    await t.worker.submit(a);
    expect((await t.worker.waitFor(a.job_id)).status).toBe('failed');
    const b = job('test.failonce', {}, (x) => x.idempotencyKey('k-f'));
    expect(await t.worker.submit(b)).toMatchObject({ job_id: b.job_id, created: true });
    expect((await t.worker.waitFor(b.job_id)).status).toBe('completed');
  });

  it('refuses new jobs while draining (WORKER_UNAVAILABLE)', async () => {
    t = await startTestWorker();
    await t.worker.stop();
    expect(await codeOf(t.worker.submit(echo()))).toMatch(/^WORKER_UNAVAILABLE/);
  });
});

describe('restart and drain', () => {
  it('re-queues jobs interrupted by a crash (attempt + 1) and runs them', async () => {
    t = await startTestWorker();
    const j = echo({ sleep_ms: 30_000 });
    await t.worker.submit(j);
    await until(async () => (await t!.worker.get(j.job_id))?.status === 'running');
    // Simulate a crash: a second worker opens the same database while the job is "running".
    const w2 = await t.restart();
    const recovered = await w2.get(j.job_id);
    expect(recovered?.attempt).toBe(2);
    // w2 re-runs it (30 s sleep): cancel proves it is really running there.
    await until(async () => (await w2.get(j.job_id))?.status === 'running');
    expect((await w2.cancel(j.job_id)).outcome).toBe('stopping');
    expect((await w2.waitFor(j.job_id)).status).toBe('cancelled');
  });

  it('stop() lets running jobs finish within the drain timeout', async () => {
    t = await startTestWorker();
    const j = echo({ sleep_ms: 200 });
    await t.worker.submit(j);
    await until(async () => (await t!.worker.get(j.job_id))?.status === 'running');
    const states: string[] = [];
    t.worker.on('state', (s) => states.push(s));
    await t.worker.stop({ drainTimeoutMs: 5000 });
    expect(states).toEqual(['draining', 'offline']);
    const w2 = await t.restart();
    expect((await w2.get(j.job_id))?.status).toBe('completed');
  });

  it('after the drain timeout running jobs are stopped and re-queued, not lost', async () => {
    t = await startTestWorker();
    // Attempt 1 runs until it is aborted (only the drain deadline can end it); attempt 2 returns.
    const aborts: unknown[] = [];
    t.registry.register(
      handler('test.drain', async (ctx) => {
        if (ctx.attempt > 1) return 'second run';
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        aborts.push((ctx.signal.reason as { code?: string }).code);
        throw ctx.signal.reason;
      }),
    );
    const j = job('test.drain', {});
    await t.worker.submit(j);
    await until(async () => (await t!.worker.get(j.job_id))?.status === 'running');
    const states: string[] = [];
    t.worker.on('state', (s) => states.push(s));
    await t.worker.stop({ drainTimeoutMs: 50 });
    expect(states).toEqual(['draining', 'offline']);
    expect(aborts).toHaveLength(1);
    const w2 = await t.restart();
    const done = await w2.waitFor(j.job_id);
    expect(done).toMatchObject({ status: 'completed', attempt: 2 });
  });
});

describe('queries', () => {
  it('lists newest first with total, filters and cursors', async () => {
    t = await startTestWorker({ maxConcurrent: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const j = i % 2 ? job('test.echo', { i }) : echo({ i });
      ids.push(j.job_id);
      await t.worker.submit(j);
    }
    await Promise.all(ids.map((id) => t!.worker.waitFor(id)));
    const p1 = await t.worker.list({ limit: 3 });
    expect(p1.total).toBe(7);
    expect(p1.jobs.map((j) => j.job_id)).toEqual(ids.slice(4).reverse());
    const p2 = await t.worker.list({ limit: 3, cursor: p1.next_cursor ?? undefined });
    expect(p2.jobs.map((j) => j.job_id)).toEqual(ids.slice(1, 4).reverse());
    const p3 = await t.worker.list({ limit: 3, cursor: p2.next_cursor ?? undefined });
    expect(p3.jobs.map((j) => j.job_id)).toEqual([ids[0]]);
    expect(p3.next_cursor).toBeNull();
    const tests = await t.worker.list({ operation: 'test.echo' });
    expect(tests.total).toBe(3);
    expect((await t.worker.list({ status: 'completed', limit: 1 })).total).toBe(7);
    expect((await t.worker.list({ status: 'failed' })).total).toBe(0);
  });

  it('capabilities and health', async () => {
    t = await startTestWorker({ pool: 'gpu', maxConcurrent: 3 });
    const caps = await t.worker.capabilities();
    expect(caps.capabilities.operations).toEqual(['system.echo', 'test.echo']);
    expect(caps.capabilities.disk_formats).toEqual(expect.arrayContaining(['qcow2', 'raw', 'vmdk']));
    expect(caps.configuration.worker_pool).toBe('gpu');
    expect(caps.resources.max_concurrent_jobs).toBe(3);
    expect(caps.status.state).toBe('ready');
    const h = await t.worker.health();
    expect(h.status).toBe('healthy');
    expect(Object.keys(h.checks).sort()).toEqual(['appliance', 'libguestfs', 'queue', 'store']);
  });

  it('emits queue depth and active counts that return to zero', async () => {
    t = await startTestWorker({ maxConcurrent: 1 });
    const seen: string[] = [];
    t.worker.on('queue', (e) => seen.push(`${e.depth}/${e.active}`));
    const jobs = [echo({ sleep_ms: 30 }), echo(), echo()];
    for (const j of jobs) await t.worker.submit(j);
    await Promise.all(jobs.map((j) => t!.worker.waitFor(j.job_id)));
    expect(seen).toContain('2/1');
    // The slot is released just after the terminal status is recorded.
    await until(() => seen[seen.length - 1] === '0/0');
    const statusEvents: StatusChangeEvent[] = [];
    t.worker.on('status', (e) => statusEvents.push(e));
    const k = echo();
    await t.worker.submit(k);
    await t.worker.waitFor(k.job_id);
    const last = statusEvents[statusEvents.length - 1];
    expect(last).toMatchObject({ operation: 'system.echo', from: 'running', to: 'completed' });
    expect(last.seconds_in_previous).toBeGreaterThanOrEqual(0);
  });
});

describe('handler context', () => {
  it('progress is clamped and numbered, trace ids flow into events and results, metrics hooks fire', async () => {
    t = await startTestWorker();
    t.registry.register(
      handler('test.ctx', async (ctx) => {
        ctx.progress('checksum', 150, 'over', { file: 'a' });
        ctx.progress('disk_attach', -3, 'under');
        ctx.progress('cleanup', Number.NaN, 'nan');
        ctx.metrics.diskRead(1000);
        ctx.metrics.diskRead(24);
        ctx.metrics.diskWrite(7);
        ctx.metrics.checksum('success');
        return { config_pool: ctx.config.pool, attempt: ctx.attempt, aborted: ctx.signal.aborted };
      }),
    );
    const io: number[] = [];
    const checks: string[] = [];
    t.worker.on('disk:io', (e) => io.push(e.read_bytes, e.write_bytes));
    t.worker.on('checksum', (e) => checks.push(e.status));
    const live: number[] = [];
    t.worker.on('progress', (e) => live.push(e.sequence));
    const j = job('test.ctx', {}, (b) => b.observability({ trace_id: 'trace-1', span_id: 'span-1' }));
    await t.worker.submit(j);
    await t.worker.waitFor(j.job_id);
    const events = await t.worker.events(j.job_id);
    expect(events.map((e) => [e.sequence, e.phase, e.progress_percent])).toEqual([
      [0, 'checksum', 100],
      [1, 'disk_attach', 0],
      [2, 'cleanup', 0],
    ]);
    expect(events[0].details).toEqual({ file: 'a' });
    expect(events.every((e) => e.observability?.trace_id === 'trace-1')).toBe(true);
    expect(live).toEqual([0, 1, 2]);
    const r = await t.worker.result(j.job_id);
    expect(r?.observability).toEqual({ trace_id: 'trace-1', span_id: 'span-1' });
    expect(r?.metrics).toMatchObject({ disk_read_bytes: 1024, disk_write_bytes: 7 });
    expect(r?.data).toEqual({ config_pool: 'default', attempt: 1, aborted: false });
    expect(io).toEqual([1000, 0, 24, 0, 0, 7]);
    expect(checks).toEqual(['success']);
  });
});

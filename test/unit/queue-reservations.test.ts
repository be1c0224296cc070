// The local worker's side of queue-aware batching: a handler's `reserve` hook hears of every job
// that waits in the queue after intake, and the hold ends (its signal aborts) when the job is
// cancelled, once it has run, and when the worker stops. The pool's side is in
// appliance-reservations.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { testEchoHandler, type EchoData } from '../../src/handlers/echo.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { JobHandler, ReserveContext } from '../../src/handlers/types.js';
import { job, startTestWorker, until, type TestWorker } from './worker-helpers.js';

const held = new Map<string, AbortSignal>();
const handler: JobHandler<EchoData> = {
  ...testEchoHandler,
  operation: 'test.reserve',
  payloadTypes: ['test.reserve.v1'],
  reserve: async (ctx: ReserveContext<EchoData>) => {
    expect(ctx.data.sleepMs).toBeGreaterThanOrEqual(0); // validated data
    held.set(ctx.jobId, ctx.signal);
  },
};

let tw: TestWorker | undefined;
afterEach(async () => {
  await tw?.cleanup();
  held.clear();
});

const sleepJob = (ms: number) => job('test.reserve', { sleep_ms: ms });

describe('local worker reservations', () => {
  it('holds queued jobs only, and releases them on cancel, after their run and at stop', async () => {
    tw = await startTestWorker({ maxConcurrent: 1 }, new HandlerRegistry().register(handler));
    const w = tw.worker;
    const running = sleepJob(300);
    const [next, cancelled] = [sleepJob(0), sleepJob(0)];
    for (const e of [running, next, cancelled]) await w.submit(e);
    expect([...held.keys()].sort()).toEqual([next.job_id, cancelled.job_id].sort()); // not the running one

    await w.cancel(cancelled.job_id);
    expect(held.get(cancelled.job_id)!.aborted).toBe(true);
    expect(held.get(next.job_id)!.aborted).toBe(false);

    await w.waitFor(next.job_id);
    await until(() => held.get(next.job_id)!.aborted); // its run is over

    const [busy, queued] = [sleepJob(10_000), sleepJob(0)];
    for (const e of [busy, queued]) await w.submit(e);
    expect(held.get(queued.job_id)!.aborted).toBe(false);
    await w.stop({ drainTimeoutMs: 0 });
    expect(held.get(queued.job_id)!.aborted).toBe(true);
    expect(held.has(busy.job_id)).toBe(false);
  });
});

// The executor hands cancel and shutdown to the attempt without an AbortSignal of its own
// (bindAbort): these check the window before the attempt binds, and that a handler which never
// reads ctx.signal is still stopped.
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { JobHandler } from '../../src/handlers/types.js';
import { silentLogger } from '../../src/logger.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { shutdownReason } from '../../src/worker/attempt.js';
import { Executor } from '../../src/worker/executor.js';
import { newJob } from './new-job.js';

const OP = 'test.abortable';

let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** An executor over an in-memory store whose lastSequence waits for `release` (the pre-bind window). */
async function setup(handler: JobHandler<unknown>) {
  store = new SqliteStore({ path: ':memory:' });
  await store.open();
  let enter!: () => void;
  const entered = new Promise<void>((r) => (enter = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const lastSequence = store.lastSequence.bind(store);
  store.lastSequence = async (jobId: string) => {
    enter();
    await gate;
    return lastSequence(jobId);
  };
  const registry = new HandlerRegistry().register(handler);
  const executor = new Executor({
    store,
    registry,
    config: resolveConfig({}, {}),
    logger: silentLogger(),
    emit: () => undefined,
  });
  return { executor, entered, release };
}

describe('executor abort hand-over', () => {
  it('a cancel that lands before the attempt binds still stops the job, and its handler never runs', async () => {
    let ran = false;
    const { executor, entered, release } = await setup({
      operation: OP,
      payloadTypes: [`${OP}.v1`],
      validate: (d) => d,
      run: () => {
        ran = true;
        return Promise.resolve({ data: null });
      },
    });
    await store!.create(newJob('job-early-cancel-1', { max_attempts: 3 }, '{}', OP));
    const outcome = executor.execute('job-early-cancel-1');
    await entered; // running, its attempt not started yet
    expect(executor.cancelRunning('job-early-cancel-1')).toBe('stopping');
    release();
    expect(await outcome).toMatchObject({ kind: 'finished', status: 'cancelled' });
    expect(ran).toBe(false);
    expect((await store!.get('job-early-cancel-1'))?.error?.code).toBe('CANCELLED');
  });

  it('a handler that never reads ctx.signal is still stopped at shutdown and the job re-queued', async () => {
    let finish!: () => void;
    const { executor, entered, release } = await setup({
      operation: OP,
      payloadTypes: [`${OP}.v1`],
      validate: (d) => d,
      // Ignores its signal (never reads it): the attempt's race must end it anyway.
      run: () => new Promise((r) => (finish = () => r({ data: null }))),
    });
    await store!.create(newJob('job-no-signal-1', { max_attempts: 3 }, '{}', OP));
    const outcome = executor.execute('job-no-signal-1');
    await entered;
    release();
    while (!finish) await new Promise((r) => setImmediate(r));
    executor.abortAll(shutdownReason());
    expect(await outcome).toMatchObject({ kind: 'requeued', reason: 'shutdown' });
    expect((await store!.get('job-no-signal-1'))?.status).toBe('pending');
    finish();
  });
});

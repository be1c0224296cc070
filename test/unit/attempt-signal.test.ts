// runAttempt as a library caller uses it: cancel and shutdown through an AbortSignal of the
// caller's (the executor hands them over with bindAbort instead, see executor-abort.test.ts).
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import type { JobHandler } from '../../src/handlers/types.js';
import { silentLogger } from '../../src/logger.js';
import { echoJob } from '../../src/protocol/builder.js';
import { cancelReason, runAttempt, shutdownReason } from '../../src/worker/attempt.js';

function attempt(handler: JobHandler<unknown>, signal: AbortSignal) {
  const envelope = echoJob({}, handler.operation);
  return runAttempt({
    jobId: envelope.job_id,
    envelope,
    data: {},
    attempt: 1,
    timeoutSeconds: 60,
    deadline: null,
    idempotencyKey: null,
    handler,
    workerId: 'worker-test',
    config: resolveConfig({}, {}),
    logger: silentLogger(),
    signal,
    firstSequence: 0,
    onProgress: () => undefined,
  });
}

describe('runAttempt with a caller signal', () => {
  it('a cancel on the signal aborts the handler’s own signal and ends the attempt cancelled', async () => {
    const outer = new AbortController();
    let reason: unknown;
    const outcome = attempt(
      {
        operation: 'test.waiting',
        payloadTypes: ['test.waiting.v1'],
        validate: (d) => d,
        run: (ctx) =>
          new Promise((_, reject) => {
            ctx.signal.addEventListener('abort', () => reject((reason = ctx.signal.reason)));
            outer.abort(cancelReason('job-x'));
          }),
      },
      outer.signal,
    );
    expect(await outcome).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(reason).toBe(outer.signal.reason);
  });

  it('a signal aborted for shutdown before the attempt starts: interrupted, the handler never called', async () => {
    const outer = new AbortController();
    outer.abort(shutdownReason());
    let ran = false;
    const outcome = await attempt(
      {
        operation: 'test.never',
        payloadTypes: ['test.never.v1'],
        validate: (d) => d,
        run: () => {
          ran = true;
          return Promise.resolve({ data: null });
        },
      },
      outer.signal,
    );
    expect(outcome.status).toBe('interrupted');
    expect(ran).toBe(false);
  });
});

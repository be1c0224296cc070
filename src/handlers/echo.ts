// system.echo / test.echo: returns its payload. `sleep_ms` (≤ 60000) holds the job in `running`
// so tests can observe concurrency, timeouts and cancellation; the sleep ends when the signal aborts.
import { OPERATIONS } from '../protocol/vocabulary.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ValidationError } from '../protocol/errors.js';
import { ECHO_MAX_SLEEP_MS } from '../protocol/payloads/operations.js';
import type { HandlerContext, HandlerResult, JobHandler } from './types.js';

export { ECHO_MAX_SLEEP_MS };

export interface EchoData {
  sleepMs: number;
  data: unknown;
}

function validate(data: unknown): EchoData {
  let sleepMs = 0;
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && 'sleep_ms' in data) {
    const v = (data as { sleep_ms: unknown }).sleep_ms;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > ECHO_MAX_SLEEP_MS) {
      throw new ValidationError(
        `Invalid field value: payload.data.sleep_ms - must be an integer from 0 to ${ECHO_MAX_SLEEP_MS}`,
      );
    }
    sleepMs = v;
  }
  return { sleepMs, data: data ?? null };
}

/** Result `data` of system.echo / test.echo. */
export interface EchoResultData {
  /** The payload data as submitted (null when there was none). */
  echo: unknown;
  message: string;
}

async function run(ctx: HandlerContext<EchoData>): Promise<HandlerResult<EchoResultData>> {
  ctx.progress('validation', 0, 'Echo started');
  if (ctx.data.sleepMs > 0) {
    // Rejects with the signal's reason as soon as it aborts: the work really stops.
    await sleep(ctx.data.sleepMs, undefined, { signal: ctx.signal });
  }
  ctx.progress('result_generation', 100, 'Echo finished');
  return { data: { echo: ctx.data.data, message: 'Echo handler executed successfully' } };
}

function echoHandler(operation: string): JobHandler<EchoData, EchoResultData> {
  return {
    operation,
    payloadTypes: [`${operation}.v1`],
    description: 'Returns its payload data (optionally after sleep_ms milliseconds)',
    pure: true,
    validate,
    run,
  };
}

export const systemEchoHandler = echoHandler(OPERATIONS.echo);
export const testEchoHandler = echoHandler(OPERATIONS.testEcho);

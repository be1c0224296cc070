// The result document's `data`, typed per bundled operation. Read from the handlers' own
// declarations (`JobHandler<TData, TResult>`), so the types cannot drift from what runs:
// a handler that returns another shape fails `tsc` where it is written.
import type { OperationName } from '../protocol/payloads/index.js';
import type { ResultDocument } from '../protocol/schema.js';
import type { compareHandler } from './compare/index.js';
import type { convertHandler } from './convert/index.js';
import type { doctorHandler, migratePlanHandler } from './doctor/index.js';
import type { repairHandler } from './doctor/repair.js';
import type { systemEchoHandler, testEchoHandler } from './echo.js';
import type { fixHandler } from './fix/index.js';
import type { inspectHandler } from './inspect/index.js';
import type { profileHandler } from './profile/index.js';
import type { HandlerResult } from './types.js';

/** The `TResult` of a handler. */
export type HandlerResultData<H> = H extends { run(ctx: never): Promise<HandlerResult<infer R>> } ? R : never;

/** `data` of a completed job, per bundled operation. */
export interface OperationResults {
  'system.echo': HandlerResultData<typeof systemEchoHandler>;
  'test.echo': HandlerResultData<typeof testEchoHandler>;
  'guestkit.inspect': HandlerResultData<typeof inspectHandler>;
  'guestkit.profile': HandlerResultData<typeof profileHandler>;
  'guestkit.compare': HandlerResultData<typeof compareHandler>;
  'guestkit.convert': HandlerResultData<typeof convertHandler>;
  'guestkit.fix': HandlerResultData<typeof fixHandler>;
  'guestkit.doctor': HandlerResultData<typeof doctorHandler>;
  'guestkit.migrate-plan': HandlerResultData<typeof migratePlanHandler>;
  'guestkit.repair': HandlerResultData<typeof repairHandler>;
}

/** `data` of a completed `Op` job: `ResultDataOf<'guestkit.inspect'>` is the inspect report's envelope. */
export type ResultDataOf<Op extends OperationName> = OperationResults[Op];

type Terminal = ResultDocument['status'];

/**
 * A result document of an `Op` job (what `worker.result(jobId, op)` gives): narrow on `status`,
 * and a completed one has its operation's `data`; the others carry `error`.
 */
export type ResultOf<Op extends OperationName> =
  | (Omit<ResultDocument, 'status' | 'data'> & { status: 'completed'; data: ResultDataOf<Op> })
  | (Omit<ResultDocument, 'status' | 'data'> & { status: Exclude<Terminal, 'completed'>; data?: unknown });

// Every bundled operation has its result type, and no other name is listed (compile-time check).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _everyOperation: Same<keyof OperationResults, OperationName> = true;
void _everyOperation;

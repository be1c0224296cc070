// Handler registry and the bundled handlers. Other operations register themselves here
// (one line each) as they are added.
import { compareHandler } from './compare/index.js';
import { convertHandler } from './convert/index.js';
import { doctorHandler, migratePlanHandler } from './doctor/index.js';
import { repairHandler } from './doctor/repair.js';
import { systemEchoHandler, testEchoHandler } from './echo.js';
import { fixHandler } from './fix/index.js';
import { inspectHandler } from './inspect/index.js';
import { profileHandler } from './profile/index.js';
import { HandlerRegistry } from './registry.js';
import type { JobHandler } from './types.js';

export { HandlerRegistry } from './registry.js';
export type {
  AnyHandler,
  HandlerAvailability,
  HandlerContext,
  HandlerMetrics,
  HandlerResult,
  JobHandler,
} from './types.js';
export { systemEchoHandler, testEchoHandler, ECHO_MAX_SLEEP_MS } from './echo.js';

/** The registry createWorker uses unless given another. */
export const defaultRegistry = new HandlerRegistry();
defaultRegistry.register(systemEchoHandler);
defaultRegistry.register(testEchoHandler);
defaultRegistry.register(convertHandler);
defaultRegistry.register(fixHandler);
defaultRegistry.register(inspectHandler);
defaultRegistry.register(profileHandler);
defaultRegistry.register(compareHandler);
defaultRegistry.register(doctorHandler);
defaultRegistry.register(migratePlanHandler);
defaultRegistry.register(repairHandler);

/** Adds an operation to the default registry (affects workers created afterwards and running ones). */
export function registerHandler<TData>(
  handler: JobHandler<TData>,
  options: { replace?: boolean } = {},
): void {
  defaultRegistry.register(handler, options);
}

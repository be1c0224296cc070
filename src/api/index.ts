// REST API entry points: `buildApi` (an app for inject or custom listening) and `startApi`, which
// the daemon calls when the API is enabled; it returns a handle closed on shutdown.
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Worker } from '../worker/types.js';
import { buildApi, type BuildApiOptions } from './app.js';

export { buildApi, type BuildApiOptions } from './app.js';
export { ApiError, mapError } from './errors.js';
export { bearerMatches } from './auth.js';
export { healthReporter, type HealthOptions } from './health.js';
export type { SseOptions } from './sse.js';
export * as apiSchemas from './schemas.js';

export interface ServerHandle {
  /** Stops accepting connections and closes the server. */
  close(): Promise<void>;
  /** `host:port` actually bound. */
  address?: string;
}

export async function startApi(
  worker: Worker,
  config: Readonly<WorkerConfig>,
  logger: Logger,
  options: BuildApiOptions = {},
): Promise<ServerHandle | undefined> {
  const app = await buildApi(worker, {
    token: config.api.token,
    bodyLimitBytes: config.api.bodyLimitBytes,
    logger: logger.child({ component: 'api' }),
    rateLimit: config.api.rateLimit === null ? undefined : { max: config.api.rateLimit },
    ...options,
  });
  await app.listen({ host: config.api.host, port: config.api.port });
  const addr = app.server.address();
  const address =
    typeof addr === 'object' && addr
      ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
      : `${config.api.host}:${config.api.port}`;
  logger.info({ address, auth: config.api.token ? 'bearer' : 'none' }, 'REST API listening');
  if (!config.api.token) {
    logger.warn(
      { address },
      config.api.insecureNoAuth
        ? 'REST API has no token (--insecure-no-auth): anyone who reaches this address controls the worker'
        : 'REST API has no token: listening on loopback only; set --api-token to serve other hosts',
    );
  }
  return { address, close: () => app.close() };
}

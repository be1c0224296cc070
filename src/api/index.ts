// Placeholder hook (owned by the REST API engineer, who replaces this file): the daemon calls
// `startApi(worker, config, logger)` when the API is enabled and closes the returned handle on
// shutdown. Returning undefined means "no API server in this build".
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Worker } from '../worker/types.js';

export interface ServerHandle {
  /** Stops accepting connections and closes the server. */
  close(): Promise<void>;
  /** `host:port` actually bound. */
  address?: string;
}

export async function startApi(
  _worker: Worker,
  _config: Readonly<WorkerConfig>,
  _logger: Logger,
): Promise<ServerHandle | undefined> {
  return undefined;
}

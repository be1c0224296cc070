// Placeholder hook (owned by the metrics engineer, who replaces this file): the daemon calls
// `startMetrics(worker, config, logger)` when metrics are enabled (before the worker starts, so
// every event is observed) and closes the returned handle on shutdown.
import type { ServerHandle } from '../api/index.js';
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Worker } from '../worker/types.js';

export async function startMetrics(
  _worker: Worker,
  _config: Readonly<WorkerConfig>,
  _logger: Logger,
): Promise<ServerHandle | undefined> {
  return undefined;
}

// One entry point for "the worker this configuration asks for": the local worker (embedded
// SQLite store, file/http transports) or the distributed one (Redis + BullMQ) for
// `transport === 'redis'`. Both implement the same `Worker` interface.
import type { WorkerConfig } from '../config.js';
import { createRedisWorker, type CreateRedisWorkerOptions } from '../distributed/worker.js';
import type { Worker } from './types.js';
import { createWorker, type CreateWorkerOptions } from './worker.js';

export function createWorkerFor(
  config: WorkerConfig,
  options: CreateWorkerOptions & CreateRedisWorkerOptions = {},
): Worker {
  if (config.transport !== 'redis') return createWorker(config, options);
  const { store: _store, ...rest } = options;
  return createRedisWorker(config, rest);
}

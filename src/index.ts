// Public entry point of the worker: `import { createWorker } from 'guestkit-worker/worker'`.
export { createWorker, LocalWorker, toStatusDocument, type CreateWorkerOptions } from './worker/worker.js';
export { createWorkerFor } from './worker/factory.js';
export { createRedisWorker, RedisWorker, type CreateRedisWorkerOptions } from './distributed/worker.js';
export { RedisJobStore } from './distributed/store.js';
export { tuningFromEnv, type RedisTuning } from './distributed/tuning.js';
export * from './worker/types.js';
export { resolveAllowedPath, type PathKind, type ResolvePathOptions } from './worker/paths.js';
export {
  CapabilityProbe,
  checkConstraints,
  compareVersions,
  parseQemuImgFormats,
  probeDiskFormats,
  type FeatureProbe,
} from './worker/capabilities.js';
export { runAttempt, type AttemptInput, type AttemptOutcome } from './worker/attempt.js';
export { Executor, failureResult, type ExecuteOutcome } from './worker/executor.js';
export { LocalScheduler, backoffMs, type QueueEntry } from './worker/scheduler.js';
export {
  HandlerRegistry,
  defaultRegistry,
  registerHandler,
  systemEchoHandler,
  testEchoHandler,
  type AnyHandler,
  type HandlerContext,
  type HandlerMetrics,
  type HandlerResult,
  type JobHandler,
} from './handlers/index.js';
export { convertHandler, type ConvertRequest } from './handlers/convert/index.js';
export {
  createFixHandler,
  defaultFixOperations,
  fixHandler,
  FixOperationRegistry,
  type FixHandlerOptions,
  type FixOperation,
  type FixOperationContext,
  type FixOutcome,
  type FixReport,
  type GuestOs,
} from './handlers/fix/index.js';
export {
  JobBuilder,
  newJobId,
  inspectJob,
  echoJob,
  validateEnvelope,
  parseJobText,
  formatForFile,
  canonicalJson,
  toJobError,
  PROTOCOL_VERSION,
  STANDARD_PHASES,
  EnvelopeSchema,
  ResultDocumentSchema,
  ProgressEventSchema,
  WorkerRegistrationSchema,
  type ValidatedJob,
  type ResolvedExecution,
  type Observability,
} from './protocol/index.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite.js';
export {
  FileTransport,
  isJobFileName,
  resultFileName,
  writeFileAtomic,
  type FileTransportOptions,
} from './transports/file/index.js';
export type {
  JobStore,
  JobRecord,
  NewJob,
  CreateOutcome,
  TransitionPatch,
  StatusHistoryEntry,
} from './store/types.js';
export {
  resolveConfig,
  WORKER_VERSION,
  type WorkerConfigInput,
  type LogLevel,
  type TransportKind,
} from './config.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export {
  WorkerClient,
  ApiClientError,
  DEFAULT_API_URL,
  type WorkerClientOptions,
  type JobStreamEvent,
  type SubmitResponse,
  type CancelResponse,
  type Capabilities,
} from './cli/client.js';
export { buildApi, startApi, type BuildApiOptions, type ServerHandle } from './api/index.js';
export { dashboardPlugin, type DashboardOptions } from './dashboard/plugin.js';
export type { DashboardStats } from './dashboard/live.js';
export { createWorkerMetrics, startMetrics, METRIC_NAMES, type WorkerMetrics } from './metrics/index.js';

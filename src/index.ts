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
  buildJob,
  newJobId,
  inspectJob,
  echoJob,
  type DataFor,
  type JobOf,
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
// Payloads and results typed per bundled operation: buildJob('guestkit.inspect', data) checks the
// payload at compile time, worker.result(jobId, 'guestkit.inspect') gives the typed report.
export {
  OPERATION_PAYLOADS,
  OPERATION_NAMES,
  type OperationName,
  type PayloadOf,
} from './protocol/payloads/index.js';
export type { OperationResults, ResultDataOf, ResultOf } from './handlers/results.js';
export type { EchoResultData } from './handlers/echo.js';
export type {
  InspectResultData,
  InspectSummary,
  InspectionReport,
  RootReport,
  ImageInfo,
  OperatingSystemInfo,
  FilesystemInfo,
  PackageInfo,
  PackagesInfo,
  ServiceUnit,
  ServicesInfo,
  UserAccount,
  UsersInfo,
  NetworkInterface,
  NetworkInfo,
  SecurityInfo,
  PartitionInfo,
  FstabEntry,
  StorageInfo,
  KernelsInfo,
  DatabaseInfo,
  CloudInitInfo,
  VmToolsInfo,
} from './handlers/inspect/report.js';
export type { ProfileResultData } from './handlers/profile/index.js';
export type {
  ProfileReport,
  ProfileName,
  Finding as ProfileFinding,
  Severity as ProfileSeverity,
  SeverityCounts,
  Evidence,
} from './handlers/profile/types.js';
export type {
  CompareResultData,
  ComparisonReport,
  ComparisonSide,
  FieldChange,
  PackageChange,
  PackagesDiff,
  ServicesDiff,
  UsersDiff,
  FilesDiff,
  ConfigFileChange,
  Recommendation,
} from './handlers/compare/types.js';
export type { ConvertResultData } from './handlers/convert/index.js';
export type { FixResultData, OperationReport as FixOperationReport } from './handlers/fix/index.js';
export type { DoctorResultData, MigratePlanResultData } from './handlers/doctor/index.js';
export type { MigrationPlan, PlanStep } from './handlers/doctor/plan.js';
export type {
  DoctorResult,
  CheckResult as DoctorCheckResult,
  Finding as DoctorFinding,
  Severity as DoctorSeverity,
  Verdict as DoctorVerdict,
} from './handlers/doctor/types.js';
export type { RepairResultData } from './handlers/doctor/repair.js';
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

// JSON Schemas of Job Protocol v1 in TypeBox: one source for runtime checks (Value.Check / Errors)
// and the TypeScript types. Objects stay open (no additionalProperties: false) because unknown
// fields are accepted and ignored everywhere.
import { Type, type Static } from '@sinclair/typebox';
import {
  JOB_STATUSES,
  TERMINAL_STATUSES,
  isTerminal,
  type JobStatus,
  type TerminalStatus,
} from './vocabulary.js';

const StringMap = Type.Record(Type.String(), Type.String());

export const PROTOCOL_VERSION = '1.0';
export const JOB_KIND = 'VMOperation';

export const JobStatusSchema = Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)));
export { JOB_STATUSES, TERMINAL_STATUSES, isTerminal, type JobStatus, type TerminalStatus };

export const ExecutionSchema = Type.Object({
  idempotency_key: Type.Optional(Type.String()),
  attempt: Type.Optional(Type.Integer()),
  max_attempts: Type.Optional(Type.Integer()),
  timeout_seconds: Type.Optional(Type.Integer()),
  deadline: Type.Optional(Type.String()),
  priority: Type.Optional(Type.Integer()),
  cancellable: Type.Optional(Type.Boolean()),
});

export const ConstraintsSchema = Type.Object({
  required_capabilities: Type.Optional(Type.Array(Type.String())),
  required_features: Type.Optional(Type.Array(Type.String())),
  minimum_worker_version: Type.Optional(Type.String()),
  maximum_disk_size_gb: Type.Optional(Type.Integer()),
  require_privileged: Type.Optional(Type.Boolean()),
  allowed_worker_pools: Type.Optional(Type.Array(Type.String())),
});

export const ObservabilitySchema = Type.Object({
  trace_id: Type.Optional(Type.String()),
  span_id: Type.Optional(Type.String()),
  parent_span_id: Type.Optional(Type.String()),
  correlation_id: Type.Optional(Type.String()),
});
export type Observability = Static<typeof ObservabilitySchema>;

export const EnvelopeSchema = Type.Object({
  $schema: Type.Optional(Type.Unknown()),
  version: Type.String(),
  job_id: Type.String(),
  created_at: Type.String(),
  kind: Type.String(),
  operation: Type.String(),
  payload: Type.Object({ type: Type.String(), data: Type.Optional(Type.Unknown()) }),
  metadata: Type.Optional(
    Type.Object({
      name: Type.Optional(Type.String()),
      namespace: Type.Optional(Type.String()),
      labels: Type.Optional(StringMap),
      annotations: Type.Optional(StringMap),
    }),
  ),
  execution: Type.Optional(ExecutionSchema),
  constraints: Type.Optional(ConstraintsSchema),
  routing: Type.Optional(
    Type.Object({
      worker_id: Type.Optional(Type.String()),
      worker_pool: Type.Optional(Type.String()),
      affinity: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      anti_affinity: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  ),
  observability: Type.Optional(ObservabilitySchema),
  audit: Type.Optional(
    Type.Object({
      submitted_by: Type.Optional(Type.String()),
      submitted_from: Type.Optional(Type.String()),
      authorization: Type.Optional(
        Type.Object({ method: Type.Optional(Type.String()), subject: Type.Optional(Type.String()) }),
      ),
    }),
  ),
});
/** A job envelope as written by clients (optional parts may be absent). */
export type JobEnvelope = Static<typeof EnvelopeSchema>;

/** Execution settings after defaults are applied. */
export interface ResolvedExecution {
  idempotency_key: string | null;
  attempt: number;
  max_attempts: number;
  timeout_seconds: number;
  deadline: string | null;
  priority: number;
  cancellable: boolean;
}

/** A validated envelope: the client's document plus resolved execution settings. */
export interface ValidatedJob {
  envelope: JobEnvelope;
  execution: ResolvedExecution;
  /** Non-fatal remarks (e.g. timeout_seconds above a day), logged by the worker. */
  warnings: string[];
}

export const ProgressEventSchema = Type.Object({
  job_id: Type.String(),
  timestamp: Type.String(),
  sequence: Type.Integer({ minimum: 0 }),
  phase: Type.String(),
  progress_percent: Type.Number({ minimum: 0, maximum: 100 }),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  observability: Type.Optional(ObservabilitySchema),
});
export type ProgressEvent = Static<typeof ProgressEventSchema>;

export const STANDARD_PHASES = [
  'validation',
  'checksum',
  'disk_attach',
  'disk_inspection',
  'os_detection',
  'package_scan',
  'service_scan',
  'security_scan',
  'result_generation',
  'cleanup',
] as const;

export const JobErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  phase: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  recoverable: Type.Boolean(),
  retry_recommended: Type.Boolean(),
});

export const ResultDocumentSchema = Type.Object({
  job_id: Type.String(),
  status: Type.Union(TERMINAL_STATUSES.map((s) => Type.Literal(s))),
  completed_at: Type.Optional(Type.String()),
  failed_at: Type.Optional(Type.String()),
  worker_id: Type.String(),
  execution_summary: Type.Object({
    started_at: Type.String(),
    duration_seconds: Type.Number({ minimum: 0 }),
    attempt: Type.Integer({ minimum: 1 }),
    idempotency_key: Type.Optional(Type.String()),
  }),
  outputs: Type.Object({
    primary: Type.Optional(Type.String()),
    artifacts: Type.Array(Type.String()),
  }),
  metrics: Type.Optional(
    Type.Object({
      disk_read_bytes: Type.Number(),
      disk_write_bytes: Type.Number(),
      peak_memory_mb: Type.Number(),
      cpu_seconds: Type.Number(),
    }),
  ),
  observability: Type.Optional(ObservabilitySchema),
  error: Type.Optional(JobErrorSchema),
  data: Type.Optional(Type.Unknown()),
});
export type ResultDocument = Static<typeof ResultDocumentSchema>;

export const WorkerRegistrationSchema = Type.Object({
  worker_id: Type.String(),
  version: Type.String(),
  hostname: Type.String(),
  registered_at: Type.String(),
  capabilities: Type.Object({
    operations: Type.Array(Type.String()),
    features: Type.Array(Type.String()),
    disk_formats: Type.Array(Type.String()),
  }),
  resources: Type.Object({
    max_concurrent_jobs: Type.Integer(),
    max_disk_size_gb: Type.Number(),
    available_disk_gb: Type.Number(),
    cpu_cores: Type.Integer(),
    memory_gb: Type.Number(),
  }),
  configuration: Type.Object({
    privileged: Type.Boolean(),
    worker_pool: Type.String(),
    data_locality: Type.Array(Type.String()),
  }),
  status: Type.Object({
    state: Type.Union([
      Type.Literal('ready'),
      Type.Literal('busy'),
      Type.Literal('draining'),
      Type.Literal('offline'),
    ]),
    current_jobs: Type.Integer(),
    last_heartbeat: Type.String(),
  }),
});
export type WorkerRegistration = Static<typeof WorkerRegistrationSchema>;
export type WorkerState = WorkerRegistration['status']['state'];

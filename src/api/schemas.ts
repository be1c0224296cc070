// Request and response schemas of the REST API (TypeBox): the single source for the OpenAPI
// document, query/param validation, and the tests that check every response against them.
// Protocol documents (envelope, result, events, registration) are reused from src/protocol.
import { Type, type Static } from '@sinclair/typebox';
import {
  EnvelopeSchema,
  JobErrorSchema,
  JobStatusSchema,
  ResultDocumentSchema,
  WorkerRegistrationSchema,
} from '../protocol/schema.js';
import { JOB_ID_MAX_LENGTH } from '../protocol/validate.js';

export { EnvelopeSchema, ResultDocumentSchema, WorkerRegistrationSchema };

/** `{"error": "<CODE>", "message": "…", "details"?}` — every failure, every route. */
export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'Machine-readable code, e.g. VALIDATION_ERROR' }),
    message: Type.String({ description: 'What went wrong and what to fix' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { description: 'Error envelope' },
);
export type ErrorBody = Static<typeof ErrorSchema>;

export const JobIdParams = Type.Object({
  id: Type.String({
    minLength: 8,
    maxLength: JOB_ID_MAX_LENGTH,
    pattern: '^[A-Za-z0-9._:-]+$',
    description: 'Job id (URL-encoded by clients)',
  }),
});
export type JobIdParams = Static<typeof JobIdParams>;

export const SubmitResponseSchema = Type.Object({
  job_id: Type.String(),
  status: JobStatusSchema,
  message: Type.String(),
  /** Present on a 200: nothing new was queued. */
  existing: Type.Optional(Type.Boolean()),
  reason: Type.Optional(Type.Union([Type.Literal('same_document'), Type.Literal('idempotency_key')])),
});
export type SubmitResponse = Static<typeof SubmitResponseSchema>;

export const JobStatusDocumentSchema = Type.Object({
  job_id: Type.String(),
  operation: Type.String(),
  status: JobStatusSchema,
  attempt: Type.Integer({ minimum: 1 }),
  max_attempts: Type.Integer({ minimum: 1 }),
  priority: Type.Integer(),
  submitted_at: Type.String({ format: 'date-time' }),
  started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  completed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  worker_id: Type.Union([Type.String(), Type.Null()]),
  progress: Type.Union([
    Type.Object({ phase: Type.String(), percent: Type.Number(), message: Type.String() }),
    Type.Null(),
  ]),
  idempotency_key: Type.Optional(Type.String()),
  error: Type.Optional(JobErrorSchema),
  image: Type.Optional(Type.String({ description: 'The disk image the job works on (a → b for compare)' })),
});

export const SubmissionSchema = Type.Object({
  envelope: Type.Unknown({ description: 'The job envelope as submitted' }),
  source: Type.String({ description: 'file, http, redis or library' }),
  history: Type.Array(
    Type.Object({
      from: Type.Union([JobStatusSchema, Type.Null()]),
      to: JobStatusSchema,
      at: Type.String({ format: 'date-time' }),
      attempt: Type.Integer({ minimum: 1 }),
    }),
    { description: 'Every status change, oldest first (the attempt history)' },
  ),
});

export const DeleteResponseSchema = Type.Object({
  job_id: Type.String(),
  message: Type.String(),
});

export const ListQuerySchema = Type.Object({
  status: Type.Optional(JobStatusSchema),
  operation: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
});
export type ListQueryParams = Static<typeof ListQuerySchema>;

export const ListResponseSchema = Type.Object({
  jobs: Type.Array(JobStatusDocumentSchema),
  total: Type.Integer({ minimum: 0, description: 'Jobs matching the filters (all pages)' }),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export const ResultResponseSchema = Type.Object({
  success: Type.Literal(true),
  data: ResultDocumentSchema,
});

export const CancelResponseSchema = Type.Object({
  job_id: Type.String(),
  status: JobStatusSchema,
  message: Type.String(),
});

export const EventsQuerySchema = Type.Object({
  after: Type.Optional(
    Type.Integer({ minimum: -1, description: 'Replay events with a greater sequence (default: all)' }),
  ),
});

/** The registration document plus the flat fields interfaces.md lists for /capabilities. */
export const CapabilitiesSchema = Type.Composite([
  WorkerRegistrationSchema,
  Type.Object({
    operations: Type.Array(Type.String()),
    features: Type.Array(Type.String()),
    disk_formats: Type.Array(Type.String()),
    max_concurrent_jobs: Type.Integer(),
    max_disk_size_gb: Type.Number(),
    pool: Type.String(),
  }),
]);

export const WorkersResponseSchema = Type.Object({
  workers: Type.Array(WorkerRegistrationSchema),
  total: Type.Integer(),
});

const HealthCheckSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('error')]),
  message: Type.Optional(Type.String()),
  latency_ms: Type.Optional(Type.Number()),
  details: Type.Optional(
    Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
  ),
});

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')]),
  timestamp: Type.String({ format: 'date-time' }),
  uptime_seconds: Type.Number({ minimum: 0 }),
  checks: Type.Record(Type.String(), HealthCheckSchema),
});

/** Standard error responses a route can produce, for the OpenAPI document. */
export function errors(...codes: number[]): Record<number, typeof ErrorSchema> {
  const out: Record<number, typeof ErrorSchema> = {};
  for (const c of [...codes, 401, 500]) out[c] = ErrorSchema;
  return out;
}

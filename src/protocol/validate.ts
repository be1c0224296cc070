// Envelope validation in the order and with the messages of protocol §2 (first failure wins),
// then a structural TypeBox check of everything else so a wrong type anywhere names its field.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValidationError } from './errors.js';
import {
  EnvelopeSchema,
  JOB_KIND,
  PROTOCOL_VERSION,
  type JobEnvelope,
  type ResolvedExecution,
  type ValidatedJob,
} from './schema.js';

// Compiled once: the structural check runs per submission (hot path of the benchmark).
const envelopeCheck = TypeCompiler.Compile(EnvelopeSchema);

export const JOB_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
export const JOB_ID_MAX_LENGTH = 200;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const SEMVER = /^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
export const DEFAULT_TIMEOUT_SECONDS = 3600;
export const LONG_TIMEOUT_SECONDS = 86_400;
/** Upper bounds (#14): `timeout_seconds: 1e20` was accepted; a job is never meant to run a month. */
export const MAX_TIMEOUT_SECONDS = 7 * 86_400;
export const MAX_ATTEMPTS = 100;
export const MAX_DISK_SIZE_GB = 1024 * 1024;

const missing = (field: string): ValidationError =>
  new ValidationError(`Missing required field: ${field}`, { field });
const invalid = (field: string, why: string): ValidationError =>
  new ValidationError(`Invalid field value: ${field} - ${why}`, { field });

/** A value for a message: never calls the document's own toString (`{"toString": 1}` would throw). */
function shown(v: unknown): string {
  if (typeof v === 'string') return v.length > 100 ? `${v.slice(0, 100)}…` : v;
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 3339 with an explicit offset; the date must also exist. */
export function isRfc3339(value: unknown): value is string {
  return typeof value === 'string' && RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

export function isValidJobId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    Buffer.byteLength(value) >= 8 &&
    value.length <= JOB_ID_MAX_LENGTH &&
    JOB_ID_PATTERN.test(value)
  );
}

function requireString(obj: Record<string, unknown>, key: string, field = key): string {
  const v = obj[key];
  if (v === undefined || v === null) throw missing(field);
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  return v;
}

function optionalInt(obj: Record<string, unknown>, key: string, field: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw invalid(
      field,
      `must be an integer, got ${typeof v === 'string' ? JSON.stringify(shown(v)) : shown(v)}`,
    );
  return v;
}

function checkExecution(raw: unknown, warnings: string[]): ResolvedExecution {
  if (raw !== undefined && raw !== null && !isObject(raw)) throw invalid('execution', 'must be an object');
  const ex = isObject(raw) ? raw : {};
  const priority = optionalInt(ex, 'priority', 'execution.priority') ?? 5;
  if (priority < 1 || priority > 10) throw invalid('execution.priority', `must be 1-10, got ${priority}`);
  const maxAttempts = optionalInt(ex, 'max_attempts', 'execution.max_attempts') ?? 1;
  if (maxAttempts < 1) throw invalid('execution.max_attempts', 'must be at least 1');
  if (maxAttempts > MAX_ATTEMPTS)
    throw invalid('execution.max_attempts', `must be at most ${MAX_ATTEMPTS}, got ${shown(maxAttempts)}`);
  const attempt = optionalInt(ex, 'attempt', 'execution.attempt') ?? 1;
  if (attempt < 1) throw invalid('execution.attempt', 'must be at least 1');
  if (attempt > maxAttempts) {
    throw invalid('execution.attempt', `attempt (${attempt}) cannot exceed max_attempts (${maxAttempts})`);
  }
  const timeout = optionalInt(ex, 'timeout_seconds', 'execution.timeout_seconds') ?? DEFAULT_TIMEOUT_SECONDS;
  if (timeout < 1) throw invalid('execution.timeout_seconds', `must be at least 1, got ${timeout}`);
  if (timeout > MAX_TIMEOUT_SECONDS) {
    throw invalid(
      'execution.timeout_seconds',
      `must be at most ${MAX_TIMEOUT_SECONDS} (7 days), got ${shown(timeout)}; split the work into shorter jobs`,
    );
  }
  if (timeout > LONG_TIMEOUT_SECONDS) {
    warnings.push(`execution.timeout_seconds is ${timeout} (more than a day)`);
  }
  let deadline: string | null = null;
  if (ex.deadline !== undefined && ex.deadline !== null) {
    if (!isRfc3339(ex.deadline)) {
      throw invalid(
        'execution.deadline',
        'must be an RFC 3339 timestamp with offset (e.g., 2025-01-01T00:00:00Z)',
      );
    }
    deadline = ex.deadline;
  }
  let key: string | null = null;
  if (ex.idempotency_key !== undefined && ex.idempotency_key !== null) {
    if (typeof ex.idempotency_key !== 'string')
      throw invalid('execution.idempotency_key', 'must be a string');
    if (ex.idempotency_key === '') throw invalid('execution.idempotency_key', 'cannot be empty');
    key = ex.idempotency_key;
  }
  let cancellable = true;
  if (ex.cancellable !== undefined && ex.cancellable !== null) {
    if (typeof ex.cancellable !== 'boolean') throw invalid('execution.cancellable', 'must be a boolean');
    cancellable = ex.cancellable;
  }
  return {
    idempotency_key: key,
    attempt,
    max_attempts: maxAttempts,
    timeout_seconds: timeout,
    deadline,
    priority,
    cancellable,
  };
}

function checkConstraints(raw: unknown): void {
  if (raw === undefined || raw === null) return;
  if (!isObject(raw)) throw invalid('constraints', 'must be an object');
  const size = optionalInt(raw, 'maximum_disk_size_gb', 'constraints.maximum_disk_size_gb');
  if (size !== undefined && (size < 0 || size > MAX_DISK_SIZE_GB)) {
    throw invalid('constraints.maximum_disk_size_gb', `must be 0-${MAX_DISK_SIZE_GB}, got ${shown(size)}`);
  }
  const v = raw.minimum_worker_version;
  if (v === undefined || v === null) return;
  if (typeof v !== 'string') throw invalid('constraints.minimum_worker_version', 'must be a string');
  if (v.trim() === '') throw invalid('constraints.minimum_worker_version', 'cannot be empty');
  if (!SEMVER.test(v.trim())) {
    throw invalid(
      'constraints.minimum_worker_version',
      `must be a semantic version (e.g., '1.2.0'), got '${v}'`,
    );
  }
}

/** `/execution/priority` → `execution.priority`; `/metadata/labels/a` → `metadata.labels.a`. */
function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/**
 * Validates a parsed envelope. Returns it with resolved execution defaults, or throws a
 * ValidationError (code VALIDATION_ERROR) with the protocol's message. Unknown fields are kept and ignored.
 */
export function validateEnvelope(input: unknown): ValidatedJob {
  if (!isObject(input)) throw new ValidationError('Invalid job document: expected a JSON object');
  const warnings: string[] = [];

  // 1. version
  const version = input.version;
  if (version === undefined || version === null) throw missing('version');
  if (version !== PROTOCOL_VERSION)
    throw new ValidationError(`Unsupported protocol version: ${shown(version)}`);

  // 2. job_id (+ created_at, which the spec lists as required but does not order)
  const jobId = requireString(input, 'job_id');
  if (Buffer.byteLength(jobId) < 8) throw invalid('job_id', 'must be at least 8 characters');
  if (jobId.length > JOB_ID_MAX_LENGTH)
    throw invalid('job_id', `must be at most ${JOB_ID_MAX_LENGTH} characters`);
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw invalid('job_id', "must contain only letters, digits, '.', '_', ':' and '-'");
  }
  const createdAt = requireString(input, 'created_at');
  if (!isRfc3339(createdAt)) {
    throw invalid('created_at', 'must be an RFC 3339 timestamp with offset (e.g., 2025-01-01T00:00:00Z)');
  }

  // 3. kind
  const kind = input.kind;
  if (kind !== JOB_KIND) {
    if (kind === undefined || kind === null) throw missing('kind');
    throw invalid('kind', `must be '${JOB_KIND}', got '${shown(kind)}'`);
  }

  // 4. operation
  const operation = requireString(input, 'operation');
  if (!operation.includes('.') || operation.split('.').some((p) => p === '')) {
    throw invalid('operation', "must be namespaced (e.g., 'guestkit.inspect')");
  }

  // 5. payload.type
  const payload = input.payload;
  if (payload === undefined || payload === null) throw missing('payload');
  if (!isObject(payload)) throw invalid('payload', 'must be an object with type and data');
  const type = requireString(payload, 'type', 'payload.type');
  const parts = type.split('.');
  if (parts.length < 3 || parts.some((p) => p === '')) {
    throw invalid('payload.type', "must be namespaced with version (e.g., 'guestkit.inspect.v1')");
  }
  const last = parts[parts.length - 1];
  if (!last.startsWith('v')) throw invalid('payload.type', `version part must start with 'v', got '${last}'`);

  // 6. execution, 7. constraints
  const execution = checkExecution(input.execution, warnings);
  checkConstraints(input.constraints);

  // Everything else: types of metadata, routing, observability, audit…
  if (!envelopeCheck.Check(input)) {
    const first = envelopeCheck.Errors(input).First();
    if (first) throw invalid(pointerToField(first.path) || '(document)', first.message.toLowerCase());
  }

  // Last, so the ordered messages above win: a deeper document would overflow the stack of every
  // recursive walk after this point (JSON.stringify of the stored envelope and of the result).
  const depth = nestingDepthOver(input, MAX_DOCUMENT_DEPTH);
  if (depth !== undefined) {
    throw new ValidationError(
      `Invalid job document: nested deeper than ${MAX_DOCUMENT_DEPTH} levels (under ${depth}); flatten it`,
    );
  }

  return { envelope: input as JobEnvelope, execution, warnings };
}

/** Objects/arrays nested deeper than this are refused (real job documents stay under 10). */
export const MAX_DOCUMENT_DEPTH = 100;

/** Iterative (a recursive walk is what must not overflow): the top-level field holding a too-deep value. */
function nestingDepthOver(root: unknown, max: number): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: root, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= max) return path || '(document)';
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'object' && v !== null) stack.push({ value: v, depth: depth + 1, path: path || k });
    }
  }
  return undefined;
}

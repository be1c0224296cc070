// Builds valid v1 envelopes (CLI quick-submit, tests, library users):
//   new JobBuilder('guestkit.inspect').payload('guestkit.inspect.v1', data).priority(7).build()
//   buildJob('guestkit.inspect', { image: { path } }, (b) => b.priority(7))
// For a bundled operation named by a literal, `data` is typed by its payload schema
// (payloads/index.ts), so a misspelt or mistyped field fails tsc; other operations take any data.
import { Ajv, type ValidateFunction } from 'ajv';
import { ulid } from 'ulid';
import { ValidationError } from './errors.js';
import { OPERATION_PAYLOADS, type OperationName, type PayloadOf } from './payloads/index.js';
import type { JobEnvelope } from './schema.js';
import { JOB_KIND, PROTOCOL_VERSION } from './schema.js';
import { validateEnvelope } from './validate.js';

/** A fresh job id: `job-<ULID>` (sortable by creation time, valid as file name / key / URL segment). */
export function newJobId(): string {
  return `job-${ulid()}`;
}

type Execution = NonNullable<JobEnvelope['execution']>;
type Constraints = NonNullable<JobEnvelope['constraints']>;

/** `payload.data` of operation `Op`: its schema's type for a bundled operation, else anything. */
export type DataFor<Op extends string> = (PayloadMap & { [operation: string]: unknown })[Op];
type PayloadMap = { [K in OperationName]: PayloadOf<K> };

/** An envelope whose `operation` is known to the type system (what {@link buildJob} returns). */
export type JobOf<Op extends string> = JobEnvelope & {
  operation: Op;
  payload: { type: string; data: DataFor<Op> };
};

export class JobBuilder<Op extends string = string> {
  private doc: JobEnvelope;
  /** The operation the builder was made for. */
  readonly operation: Op;

  constructor(operation: Op) {
    this.operation = operation;
    this.doc = {
      version: PROTOCOL_VERSION,
      job_id: newJobId(),
      created_at: new Date().toISOString(),
      kind: JOB_KIND,
      operation,
      payload: { type: `${operation}.v1`, data: {} },
    };
  }

  jobId(id: string): this {
    this.doc.job_id = id;
    return this;
  }

  payload(type: string, data: DataFor<Op>): this {
    this.doc.payload = { type, data };
    return this;
  }

  data(data: DataFor<Op>): this {
    this.doc.payload = { ...this.doc.payload, data };
    return this;
  }

  private exec(patch: Execution): this {
    this.doc.execution = { ...this.doc.execution, ...patch };
    return this;
  }

  priority(p: number): this {
    return this.exec({ priority: p });
  }
  timeout(seconds: number): this {
    return this.exec({ timeout_seconds: seconds });
  }
  deadline(at: Date | string): this {
    return this.exec({ deadline: typeof at === 'string' ? at : at.toISOString() });
  }
  maxAttempts(n: number): this {
    return this.exec({ max_attempts: n });
  }
  idempotencyKey(key: string): this {
    return this.exec({ idempotency_key: key });
  }
  cancellable(c: boolean): this {
    return this.exec({ cancellable: c });
  }

  constraints(c: Constraints): this {
    this.doc.constraints = { ...this.doc.constraints, ...c };
    return this;
  }

  labels(labels: Record<string, string>): this {
    this.doc.metadata = { ...this.doc.metadata, labels: { ...this.doc.metadata?.labels, ...labels } };
    return this;
  }

  name(name: string): this {
    this.doc.metadata = { ...this.doc.metadata, name };
    return this;
  }

  observability(o: NonNullable<JobEnvelope['observability']>): this {
    this.doc.observability = { ...this.doc.observability, ...o };
    return this;
  }

  /** The envelope, validated (throws ValidationError like a submission would). */
  build(): JobOf<Op> {
    const doc = structuredClone(this.doc);
    validateEnvelope(doc);
    return doc as JobOf<Op>;
  }
}

const ajv = new Ajv({ strict: false });
const payloadChecks = new Map<string, ValidateFunction>();

/**
 * Checks `data` against the operation's payload schema, for callers tsc does not check (plain
 * JavaScript, data from JSON). The schema is the canonical form (lower-case enum values…): the
 * worker's validators also take variants of it, which the CLI passes through JobBuilder.
 */
function checkPayload(operation: string, data: unknown): void {
  const entry = (OPERATION_PAYLOADS as Record<string, { schema: object } | undefined>)[operation];
  if (!entry) return;
  let check = payloadChecks.get(operation);
  if (!check) payloadChecks.set(operation, (check = ajv.compile(entry.schema)));
  if (check(data)) return;
  const first = check.errors![0];
  const field = `payload.data${first.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`;
  throw new ValidationError(`Invalid field value: ${field} - ${first.message ?? 'invalid'}`, { field });
}

/**
 * An envelope for `operation` with `data` as its payload (`payload.type` is `<operation>.v1`);
 * `configure` sets the rest (priority, timeout, labels…). `data` is checked against the
 * operation's payload schema at run time too; throws ValidationError like build().
 */
export function buildJob<Op extends OperationName>(
  operation: Op,
  data: PayloadOf<Op>,
  configure: (builder: JobBuilder<Op>) => JobBuilder<Op> = (b) => b,
): JobOf<Op> {
  checkPayload(operation, data);
  return configure(new JobBuilder(operation).payload(`${operation}.v1`, data as DataFor<Op>)).build();
}

type InspectData = PayloadOf<'guestkit.inspect'>;

/**
 * An inspect job: for an image path (CLI `submit --operation guestkit.inspect --image P`), or for
 * a whole typed payload (`inspectJob({ image: { path }, options: { deep_scan: true } })`).
 */
export function inspectJob(
  imagePath: string,
  options?: { format?: string; checksum?: string },
): JobOf<'guestkit.inspect'>;
export function inspectJob(data: InspectData): JobOf<'guestkit.inspect'>;
export function inspectJob(
  target: string | InspectData,
  options: { format?: string; checksum?: string } = {},
): JobOf<'guestkit.inspect'> {
  if (typeof target !== 'string') return buildJob('guestkit.inspect', target);
  // A format typed by a person (CLI): any case, as the worker's validator normalises it.
  const image: Record<string, unknown> = { path: target };
  if (options.format) image.format = options.format;
  if (options.checksum) image.checksum = options.checksum;
  return new JobBuilder<string>('guestkit.inspect')
    .payload('guestkit.inspect.v1', { image })
    .build() as JobOf<'guestkit.inspect'>;
}

/** Quick echo job (tests, samples). */
export function echoJob(data: unknown = {}, operation = 'system.echo'): JobEnvelope {
  return new JobBuilder(operation).payload(`${operation}.v1`, data).build();
}

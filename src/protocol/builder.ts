// Builds valid v1 envelopes (CLI quick-submit, tests, library users):
//   new JobBuilder('guestkit.inspect').payload('guestkit.inspect.v1', data).priority(7).build()
import { ulid } from 'ulid';
import type { JobEnvelope } from './schema.js';
import { JOB_KIND, PROTOCOL_VERSION } from './schema.js';
import { validateEnvelope } from './validate.js';

/** A fresh job id: `job-<ULID>` (sortable by creation time, valid as file name / key / URL segment). */
export function newJobId(): string {
  return `job-${ulid()}`;
}

type Execution = NonNullable<JobEnvelope['execution']>;
type Constraints = NonNullable<JobEnvelope['constraints']>;

export class JobBuilder {
  private doc: JobEnvelope;

  constructor(operation: string) {
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

  payload(type: string, data: unknown): this {
    this.doc.payload = { type, data };
    return this;
  }

  data(data: unknown): this {
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
  build(): JobEnvelope {
    const doc = structuredClone(this.doc);
    validateEnvelope(doc);
    return doc;
  }
}

/** Quick inspect job for an image path (CLI `submit --operation guestkit.inspect --image P`). */
export function inspectJob(
  imagePath: string,
  options: { format?: string; checksum?: string } = {},
): JobEnvelope {
  const image: Record<string, unknown> = { path: imagePath };
  if (options.format) image.format = options.format;
  if (options.checksum) image.checksum = options.checksum;
  return new JobBuilder('guestkit.inspect').payload('guestkit.inspect.v1', { image }).build();
}

/** Quick echo job (tests, samples). */
export function echoJob(data: unknown = {}, operation = 'system.echo'): JobEnvelope {
  return new JobBuilder(operation).payload(`${operation}.v1`, data).build();
}

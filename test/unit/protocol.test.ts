import { Value } from '@sinclair/typebox/value';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  JobBuilder,
  ResultDocumentSchema,
  ValidationError,
  canonicalJson,
  echoJob,
  inspectJob,
  newJobId,
  parseJobText,
  validateEnvelope,
  type JobEnvelope,
} from '../../src/protocol/index.js';

function base(): Record<string, unknown> {
  return {
    version: '1.0',
    job_id: 'job-12345678',
    created_at: '2025-01-01T00:00:00Z',
    kind: 'VMOperation',
    operation: 'guestkit.inspect',
    payload: { type: 'guestkit.inspect.v1', data: { image: { path: '/vms/a.qcow2' } } },
  };
}

/** Applies a patch where `undefined` deletes the key (dotted paths reach into objects). */
function mutate(patch: Record<string, unknown>): Record<string, unknown> {
  const doc = base();
  for (const [path, value] of Object.entries(patch)) {
    const keys = path.split('.');
    let o = doc as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) {
      if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
      o = o[k] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    if (value === undefined) delete o[last];
    else o[last] = value;
  }
  return doc;
}

function messageOf(doc: unknown): string {
  try {
    validateEnvelope(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe('VALIDATION_ERROR');
    return (err as Error).message;
  }
  return 'VALID';
}

describe('envelope validation: every message of protocol §2', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['unsupported version', { version: '2.0' }, 'Unsupported protocol version: 2.0'],
    ['numeric version', { version: 1 }, 'Unsupported protocol version: 1'],
    ['missing version', { version: undefined }, 'Missing required field: version'],
    ['missing job_id', { job_id: undefined }, 'Missing required field: job_id'],
    ['short job_id', { job_id: 'job-123' }, 'Invalid field value: job_id - must be at least 8 characters'],
    [
      'job_id with a slash',
      { job_id: 'job/../../etc' },
      "Invalid field value: job_id - must contain only letters, digits, '.', '_', ':' and '-'",
    ],
    [
      'job_id with a space',
      { job_id: 'job 12345678' },
      "Invalid field value: job_id - must contain only letters, digits, '.', '_', ':' and '-'",
    ],
    ['numeric job_id', { job_id: 12345678 }, 'Invalid field value: job_id - must be a string'],
    ['missing created_at', { created_at: undefined }, 'Missing required field: created_at'],
    [
      'created_at without offset',
      { created_at: '2025-01-01T00:00:00' },
      'Invalid field value: created_at - must be an RFC 3339 timestamp with offset (e.g., 2025-01-01T00:00:00Z)',
    ],
    ['wrong kind', { kind: 'Job' }, "Invalid field value: kind - must be 'VMOperation', got 'Job'"],
    ['missing kind', { kind: undefined }, 'Missing required field: kind'],
    ['missing operation', { operation: undefined }, 'Missing required field: operation'],
    [
      'operation without namespace',
      { operation: 'inspect' },
      "Invalid field value: operation - must be namespaced (e.g., 'guestkit.inspect')",
    ],
    ['missing payload', { payload: undefined }, 'Missing required field: payload'],
    ['missing payload.type', { 'payload.type': undefined }, 'Missing required field: payload.type'],
    [
      'payload.type with two parts',
      { 'payload.type': 'guestkit.inspect' },
      "Invalid field value: payload.type - must be namespaced with version (e.g., 'guestkit.inspect.v1')",
    ],
    [
      'payload.type version without v',
      { 'payload.type': 'guestkit.inspect.1' },
      "Invalid field value: payload.type - version part must start with 'v', got '1'",
    ],
    [
      'priority 0',
      { 'execution.priority': 0 },
      'Invalid field value: execution.priority - must be 1-10, got 0',
    ],
    [
      'priority 11',
      { 'execution.priority': 11 },
      'Invalid field value: execution.priority - must be 1-10, got 11',
    ],
    [
      'max_attempts 0',
      { 'execution.max_attempts': 0 },
      'Invalid field value: execution.max_attempts - must be at least 1',
    ],
    [
      'attempt above max_attempts',
      { 'execution.attempt': 3, 'execution.max_attempts': 2 },
      'Invalid field value: execution.attempt - attempt (3) cannot exceed max_attempts (2)',
    ],
    [
      'empty minimum_worker_version',
      { 'constraints.minimum_worker_version': '' },
      'Invalid field value: constraints.minimum_worker_version - cannot be empty',
    ],
    [
      'labels not strings',
      { 'metadata.labels': { a: 1 } },
      'Invalid field value: metadata.labels.a - expected string',
    ],
    [
      'deadline without offset',
      { 'execution.deadline': '2025-01-01 10:00' },
      'Invalid field value: execution.deadline - must be an RFC 3339 timestamp with offset (e.g., 2025-01-01T00:00:00Z)',
    ],
    [
      'cancellable not boolean',
      { 'execution.cancellable': 'yes' },
      'Invalid field value: execution.cancellable - must be a boolean',
    ],
  ];

  it.each(cases)('%s', (_name, patch, message) => {
    expect(messageOf(mutate(patch))).toBe(message);
  });

  it('reports the first failure in spec order', () => {
    // version and priority both wrong: version wins; job_id and kind both wrong: job_id wins.
    expect(messageOf(mutate({ version: '0.9', 'execution.priority': 99 }))).toMatch(
      /^Unsupported protocol version/,
    );
    expect(messageOf(mutate({ job_id: 'short', kind: 'X' }))).toMatch(/job_id - must be at least 8/);
    expect(messageOf(mutate({ kind: 'X', operation: 'x' }))).toMatch(/kind - must be/);
    expect(messageOf(mutate({ 'payload.type': 'a.b', 'execution.max_attempts': 0 }))).toMatch(/payload.type/);
    expect(messageOf(mutate({ 'execution.priority': 0, 'constraints.minimum_worker_version': '' }))).toMatch(
      /priority/,
    );
  });

  it('refuses non-objects', () => {
    expect(messageOf(null)).toBe('Invalid job document: expected a JSON object');
    expect(messageOf([base()])).toBe('Invalid job document: expected a JSON object');
  });

  it('accepts a minimal envelope and applies the defaults', () => {
    const v = validateEnvelope(base());
    expect(v.execution).toEqual({
      idempotency_key: null,
      attempt: 1,
      max_attempts: 1,
      timeout_seconds: 3600,
      deadline: null,
      priority: 5,
      cancellable: true,
    });
    expect(v.warnings).toEqual([]);
  });

  it('accepts and ignores unknown fields at every level', () => {
    const doc = mutate({
      $schema: 'https://example.com/job.json',
      future_field: { x: 1 },
      'payload.extra': true,
      'execution.future': 'x',
      'execution.priority': 7,
      'metadata.whatever': [1, 2],
      'constraints.new_rule': 3,
      'routing.shard': 4,
      'observability.baggage': 'k=v',
      'audit.authorization.scope': 'all',
    });
    const v = validateEnvelope(doc);
    expect(v.execution.priority).toBe(7);
    expect((v.envelope as Record<string, unknown>).future_field).toEqual({ x: 1 });
  });

  it('accepts offsets other than Z and warns about day-long timeouts', () => {
    const v = validateEnvelope(
      mutate({ created_at: '2025-06-01T12:00:00.123+02:00', 'execution.timeout_seconds': 90_000 }),
    );
    expect(v.warnings[0]).toMatch(/more than a day/);
  });

  it('job_id is measured in bytes (8) and allows the documented punctuation', () => {
    expect(messageOf(mutate({ job_id: 'a.b_c:d-' }))).toBe('VALID');
    // 4 characters, 8 bytes: long enough, but not in the allowed set.
    expect(messageOf(mutate({ job_id: 'éééé' }))).toMatch(/must contain only/);
  });
});

describe('JSON and YAML', () => {
  it('parse to the same document', () => {
    const doc = mutate({ 'execution.priority': 9, 'metadata.labels': { team: 'x' } });
    const fromJson = parseJobText(JSON.stringify(doc), 'json');
    const fromYaml = parseJobText(stringify(doc), 'yaml');
    expect(fromYaml).toEqual(fromJson);
    expect(canonicalJson(fromYaml)).toBe(canonicalJson(fromJson));
    expect(validateEnvelope(fromYaml).execution.priority).toBe(9);
  });

  it('keeps timestamps as strings in YAML (core schema)', () => {
    const y = 'version: "1.0"\njob_id: job-12345678\ncreated_at: 2025-01-01T00:00:00Z\n';
    expect((parseJobText(y, 'yaml') as { created_at: unknown }).created_at).toBe('2025-01-01T00:00:00Z');
  });

  it.each([
    ['{"version": ', 'json', /^Malformed JSON: /],
    ['', 'json', /document is empty/],
    ['a: [1, 2', 'yaml', /^Malformed YAML: /],
  ] as const)('malformed input %j → VALIDATION_ERROR', (text, format, message) => {
    expect(() => parseJobText(text, format)).toThrow(message);
  });
});

describe('JobBuilder', () => {
  it('builds valid envelopes with job-<ULID> ids', () => {
    const job = new JobBuilder('guestkit.inspect')
      .payload('guestkit.inspect.v1', { image: { path: '/x.qcow2' } })
      .priority(7)
      .timeout(120)
      .idempotencyKey('k1')
      .labels({ a: 'b' })
      .build();
    expect(job.job_id).toMatch(/^job-[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(job.execution).toEqual({ priority: 7, timeout_seconds: 120, idempotency_key: 'k1' });
    expect(Date.parse(job.created_at)).not.toBeNaN();
    expect(validateEnvelope(job).execution.priority).toBe(7);
  });

  it('refuses to build an invalid envelope', () => {
    expect(() => new JobBuilder('guestkit.inspect').priority(11).build()).toThrow(/must be 1-10, got 11/);
  });

  it('ids are unique and sortable', () => {
    const ids = Array.from({ length: 100 }, newJobId);
    expect(new Set(ids).size).toBe(100);
  });

  it('quick helpers', () => {
    const j: JobEnvelope = inspectJob('/vms/a.qcow2', { format: 'qcow2' });
    expect(j.payload).toEqual({
      type: 'guestkit.inspect.v1',
      data: { image: { path: '/vms/a.qcow2', format: 'qcow2' } },
    });
    expect(echoJob({ x: 1 }).operation).toBe('system.echo');
  });
});

describe('schemas', () => {
  it('result document schema accepts the spec example and rejects a broken one', () => {
    const doc = {
      job_id: 'job-1',
      status: 'failed',
      failed_at: '2025-01-01T00:00:00Z',
      worker_id: 'w',
      execution_summary: { started_at: '2025-01-01T00:00:00Z', duration_seconds: 0.4, attempt: 2 },
      error: {
        code: 'IMAGE_CHECKSUM_MISMATCH',
        message: 'Image checksum verification failed for /vms/a.qcow2',
        phase: 'checksum',
        details: { expected: 'a', actual: 'b' },
        recoverable: false,
        retry_recommended: false,
      },
      outputs: { artifacts: [] },
    };
    expect(Value.Check(ResultDocumentSchema, doc)).toBe(true);
    expect(Value.Check(ResultDocumentSchema, { ...doc, status: 'done' })).toBe(false);
  });
});

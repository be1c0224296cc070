// fast-check arbitraries for the fuzz suites: valid job documents of every operation, mutated at a
// random field into something hostile; raw request bodies; request lines.
import fc from 'fast-check';

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-_.:';

const IMAGE = { path: '/vms/a.qcow2', format: 'qcow2' };
/** A valid v1 payload per operation (paths live outside the fuzz worker's roots). */
const PAYLOADS: Record<string, unknown> = {
  'system.echo': { hello: 'world', n: 1 },
  'guestkit.inspect': {
    image: { ...IMAGE, checksum: `sha256:${'a'.repeat(64)}` },
    options: { include_packages: true },
    output: { format: 'json', destination: '/out/a.json' },
  },
  'guestkit.profile': { image: IMAGE, profiles: ['security'], options: { severity_threshold: 'medium' } },
  'guestkit.compare': { baseline: IMAGE, target: { path: '/vms/b.qcow2' }, options: {} },
  'guestkit.convert': { source: IMAGE, target: { path: '/out/b.raw', format: 'raw' } },
  'guestkit.fix': {
    image: { ...IMAGE, create_backup: true, backup_path: '/out/backup.qcow2' },
    operations: [{ type: 'set_hostname', options: { hostname: 'h' } }],
    output: { fixed_image: '/out/fixed.qcow2' },
  },
};

function baseDocument(operation: string, jobId: string): Record<string, unknown> {
  return {
    version: '1.0',
    job_id: jobId,
    created_at: '2026-11-26T12:00:00Z',
    kind: 'VMOperation',
    operation,
    payload: { type: `${operation}.v1`, data: structuredClone(PAYLOADS[operation]) },
    metadata: { name: 'fuzz', labels: { a: 'b' } },
    execution: { priority: 5, max_attempts: 1, timeout_seconds: 60, idempotency_key: `k-${jobId}` },
    constraints: { required_capabilities: [] },
    routing: { worker_pool: 'default' },
    observability: { trace_id: 't' },
  };
}

/** Every object path of a document ([] is the root). */
function paths(value: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (typeof value === 'object' && value !== null) {
    out.push(prefix);
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  } else {
    out.push(prefix);
  }
  return out;
}

const nested = (depth: number, leaf: string) => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;

/** A hostile replacement value, as JSON text (so depth and odd keys survive serialisation). */
const ARB_HOSTILE_JSON: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ unit: 'binary', maxLength: 64 }).map((s) => JSON.stringify(s)), // lone surrogates too
  fc.constantFrom('null', 'true', '0', '-0', '1e308', '-1e308', '1.5', '-1', '11', '99999999999999999999'),
  fc.constantFrom('[]', '{}', '""', '" "', '"\\u0000"', '"../../etc/passwd"', '"/dev/null"', '"~"'),
  fc.integer({ min: 1, max: 2_000_000 }).map((n) => JSON.stringify('x'.repeat(Math.min(n, 300_000)))),
  fc.integer({ min: 1, max: 3000 }).map((d) => nested(d, '1')),
  fc.integer({ min: 1, max: 3000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc
    .constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf')
    .map((k) => `{"${k}":{"polluted":1,"prototype":{"polluted":1}}}`),
);

type Mutation =
  | { kind: 'set'; at: number; value: string }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: string };

const ARB_MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: ARB_HOSTILE_JSON }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'sleep_ms', '$schema', ''),
      fc.string({ maxLength: 12 }),
    ),
    value: ARB_HOSTILE_JSON,
  }),
);

const MARKER = 'fuzz-placeholder-7f3a91';
const PLACEHOLDER = JSON.stringify(MARKER);

/** Applies mutations to a document and serialises it; a hostile value is spliced in as text. */
function mutate(doc: Record<string, unknown>, mutations: Mutation[]): string {
  const spliced: string[] = [];
  for (const m of mutations) {
    const all = paths(doc);
    const path = all[m.at % all.length];
    if (m.kind === 'set' && path.length === 0) continue;
    const parentPath = m.kind === 'add' ? path : path.slice(0, -1);
    let parent: unknown = doc;
    for (const k of parentPath) parent = (parent as Record<string, unknown>)[k];
    if (typeof parent !== 'object' || parent === null) continue;
    const obj = parent as Record<string, unknown>;
    if (m.kind === 'delete') {
      if (path.length > 0) delete obj[path[path.length - 1]];
      continue;
    }
    const key = m.kind === 'add' ? m.key : path[path.length - 1];
    // defineProperty: an own `__proto__` key, as JSON.parse would produce.
    Object.defineProperty(obj, key, {
      value: MARKER,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    spliced.push(m.value);
  }
  let text = JSON.stringify(doc);
  for (const v of spliced) text = text.replace(PLACEHOLDER, () => v);
  return text;
}

const ARB_JOB_ID = fc.oneof(
  fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 8, maxLength: 40 }),
  fc.uuid().map((u) => `job-${u}`),
);

export const ARB_DOCUMENT: fc.Arbitrary<{ doc: string; contentType: string }> = fc
  .record({
    operation: fc.constantFrom(...Object.keys(PAYLOADS)),
    jobId: ARB_JOB_ID,
    mutations: fc.array(ARB_MUTATION, { minLength: 0, maxLength: 4 }),
    contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8'),
  })
  .map(({ operation, jobId, mutations, contentType }) => ({
    doc: mutate(baseDocument(operation, jobId), mutations),
    contentType,
  }));

const ARB_CONTENT_TYPE = fc.option(
  fc.constantFrom(
    'application/json',
    'application/yaml',
    'text/yaml',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    'application/octet-stream',
    '*/*',
    'application/json, text/plain',
  ),
  { nil: undefined },
);

export const ARB_RAW_BODY: fc.Arbitrary<{ body: string | Buffer; contentType: string | undefined }> =
  fc.record({
    body: fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), // mostly invalid UTF-8
      fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v) ?? ''),
      ARB_DOCUMENT.chain(({ doc }) => fc.nat(doc.length).map((n) => doc.slice(0, n))), // truncated
      fc.integer({ min: 100, max: 200_000 }).map((d) => '['.repeat(d)),
      fc.integer({ min: 100, max: 50_000 }).map((d) => nested(d, '1')),
      fc.integer({ min: 10, max: 5000 }).map((d) => `${'- '.repeat(d)}x`), // deep YAML
      fc.constantFrom(
        'a: &a [*a]',
        'a: &a {b: *a}',
        '!!js/function "f(){}"',
        '--- 1\n--- 2',
        '{"version":"1.0","version":"2.0"}',
        '\uFEFF{}',
        '\u0000',
        'null',
        '[]',
        '"str"',
        '1e999',
      ),
    ),
    contentType: ARB_CONTENT_TYPE,
  });

const ARB_SEGMENT = fc.oneof(
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc
    .string({ unit: 'binary', maxLength: 20 })
    .map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, 'x'))),
  fc.constantFrom(
    '..',
    '%2e%2e',
    '..%2f..%2fetc',
    '%ff%fe',
    '%',
    '%zz',
    '__proto__',
    'constructor',
    'x'.repeat(600),
  ),
  ARB_JOB_ID,
);

const ARB_QUERY = fc
  .array(
    fc.tuple(
      fc.constantFrom('limit', 'cursor', 'status', 'operation', '__proto__', 'limit[]', 'x'),
      fc.oneof(
        fc.string({ maxLength: 30 }).map(encodeURIComponent),
        fc.constantFrom('-1', '0', '1e400', '%ff'),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

export const ARB_REQUEST_LINE: fc.Arbitrary<{
  method: 'GET' | 'DELETE' | 'PUT' | 'PATCH' | 'POST';
  url: string;
}> = fc.record({
  method: fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH', 'POST'),
  url: fc.oneof(
    ARB_SEGMENT.map((s) => `/api/v1/jobs/${s}`),
    ARB_SEGMENT.map((s) => `/api/v1/jobs/${s}/result`),
    ARB_QUERY.map((q) => `/api/v1/jobs?${q}`),
    ARB_SEGMENT.map((s) => `/api/v1/${s}`),
    ARB_SEGMENT.map((s) => `/${s}`),
  ),
});

/** Why a parsed error body is not the envelope `{error: CODE, message, details?}` (undefined if it is). */
export function checkEnvelope(parsed: unknown): string | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return 'error body is not an object';
  const b = parsed as Record<string, unknown>;
  if (typeof b.error !== 'string' || !/^[A-Z][A-Z_]+$/.test(b.error)) return `error code ${String(b.error)}`;
  if (typeof b.message !== 'string' || b.message === '') return 'empty message';
  if (/\n\s+at /.test(b.message)) return 'stack trace in message';
  if (b.details !== undefined && (typeof b.details !== 'object' || b.details === null)) return 'details';
  return undefined;
}

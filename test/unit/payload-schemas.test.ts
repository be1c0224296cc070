// The per-operation payload schemas (src/protocol/payloads) against the handlers' validators:
// every example and every original-worker job validates with both; values generated from a
// schema and accepted by it (ajv, as any JSON Schema client checks) are accepted by the
// validator; single-field invalid variants of them (wrong type, unknown enum value, missing
// required field) are refused by both. The schemas may be stricter (canonical lower-case enums),
// never looser.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultFixOperations } from '../../src/handlers/fix/builtin.js';
import { defaultRegistry } from '../../src/handlers/index.js';
import type { JobEnvelope } from '../../src/protocol/schema.js';
import {
  exampleEnvelope,
  FIX_OPERATION_SCHEMAS,
  OPERATION_NAMES,
  OPERATION_PAYLOADS,
  type OperationName,
} from '../../src/protocol/payloads/index.js';
import { validateEnvelope } from '../../src/protocol/validate.js';

type Json = Record<string, unknown>;
type Schema = Json & {
  type?: string;
  anyOf?: Schema[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
};

const ajv = new Ajv({ strict: false });
const schemaAccepts = (schema: object, value: unknown) => ajv.validate(schema, value);

function validatorAccepts(op: OperationName, data: unknown): boolean {
  const handler = defaultRegistry.get(op);
  if (!handler) throw new Error(`no handler for ${op}`);
  try {
    handler.validate(data, exampleEnvelope(op) as unknown as JobEnvelope);
    return true;
  } catch (err) {
    // A refusal is a coded protocol error; anything else is a validator bug.
    expect((err as { code?: string }).code, String(err)).toMatch(
      /^(VALIDATION_ERROR|UNSUPPORTED_IMAGE_FORMAT)$/,
    );
    return false;
  }
}

/** Values shaped by a schema (nearly all of them valid; cross-field clauses are left to ajv). */
function arbitraryOf(s: Schema): fc.Arbitrary<unknown> {
  if (s.anyOf && !s.type) return fc.oneof(...s.anyOf.map(arbitraryOf));
  if (s.enum) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'string':
      return typeof s.pattern === 'string'
        ? fc.stringMatching(new RegExp(s.pattern as string))
        : fc.string({ minLength: 1 });
    case 'integer':
      return fc.integer({ min: (s.minimum as number) ?? -1e6, max: (s.maximum as number) ?? 1e12 });
    case 'number':
      return fc.double({
        min: (s.minimum as number) ?? -1e6,
        max: (s.maximum as number) ?? 1e6,
        noNaN: true,
      });
    case 'array':
      return fc.array(arbitraryOf(s.items as Schema), {
        minLength: (s.minItems as number) ?? 0,
        maxLength: Math.max(3, (s.minItems as number) ?? 0),
      });
    case 'object': {
      const props = Object.fromEntries(
        Object.entries(s.properties ?? {}).map(([k, v]) => [k, arbitraryOf(v)]),
      );
      return fc.record(props, { requiredKeys: s.required ?? [] });
    }
    default:
      // Unknown (echo): any JSON, or an object with a sleep_ms near its bounds.
      return fc.oneof(
        fc.jsonValue(),
        fc.record({ sleep_ms: fc.integer({ min: -5, max: 60_005 }), note: fc.string() }),
        fc.record({ sleep_ms: fc.integer({ min: 59_995, max: 60_005 }) }),
      );
  }
}

/** A value that no schema node of this type accepts. */
function wrongValue(s: Schema): unknown {
  if (s.enum) return 'no-such-value';
  switch (s.type) {
    case 'string':
      return 42;
    case 'boolean':
      return 'yes';
    case 'integer':
    case 'number':
      return 'ten';
    case 'array':
      return 'a-string';
    case 'object':
      return 7;
    default:
      return undefined;
  }
}

/**
 * Fields the validator reads only when another is absent (compare's top-level recommendations
 * under options.recommendations, profile's options.include_remediation under
 * output.include_remediation): a bad value there can be ignored, so they are left out here.
 */
const SHADOWED = new Set(['recommendations', 'options.include_remediation']);

interface Mutation {
  path: string;
  apply(root: unknown): unknown;
}

/** Single-field invalid variants of `value` (valid for `s`): wrong types, enum misses, removals. */
function mutations(s: Schema, value: unknown, path: string[] = []): Mutation[] {
  if (s.anyOf && !s.type) {
    if (value === null) return [];
    const branch = s.anyOf.find((b) => schemaAccepts(b, value));
    return branch ? mutations(branch, value, path) : [];
  }
  const out: Mutation[] = [];
  const setAt =
    (p: string[], v: unknown, remove = false) =>
    (root: unknown) => {
      const copy = structuredClone(root) as Json;
      let node: Json = copy;
      for (const k of p.slice(0, -1)) node = node[k] as Json;
      const last = p[p.length - 1];
      if (remove) delete node[last];
      else node[last] = v;
      return copy;
    };
  if (s.type === 'object' && value && typeof value === 'object') {
    for (const [k, sub] of Object.entries(s.properties ?? {})) {
      const p = [...path, k];
      const field = p.join('.');
      if (SHADOWED.has(field)) continue;
      if (s.required?.includes(k)) out.push({ path: `-${field}`, apply: setAt(p, undefined, true) });
      if (!(k in (value as Json))) continue;
      const v = (value as Json)[k];
      const leaf = sub.anyOf && !sub.type ? sub.anyOf.find((b) => b.type !== 'null') : sub;
      if (leaf && v !== null) {
        const bad = wrongValue(leaf);
        if (bad !== undefined) out.push({ path: `${field}=${JSON.stringify(bad)}`, apply: setAt(p, bad) });
      }
      out.push(...mutations(sub, v, p));
    }
  }
  if (s.type === 'array' && Array.isArray(value)) {
    value.forEach((item, i) => out.push(...mutations(s.items as Schema, item, [...path, String(i)])));
    if (value.length > 0 && s.items && !s.items.anyOf) {
      const bad = wrongValue(s.items);
      if (bad !== undefined)
        out.push({ path: `${path.join('.')}[0]=bad`, apply: setAt([...path, '0'], bad) });
    }
  }
  return out;
}

describe('payload schemas and the handlers agree', () => {
  it('covers every bundled operation', () => {
    expect([...OPERATION_NAMES].sort()).toEqual(defaultRegistry.operations());
    expect(Object.keys(FIX_OPERATION_SCHEMAS).sort()).toEqual(defaultFixOperations.types());
  });

  for (const op of OPERATION_NAMES) {
    const { schema, example } = OPERATION_PAYLOADS[op];

    it(`${op}: the example is accepted by the schema, the validator and the protocol`, () => {
      expect(schemaAccepts(schema, example), JSON.stringify(ajv.errors)).toBe(true);
      expect(validatorAccepts(op, example)).toBe(true);
      expect(() => validateEnvelope(exampleEnvelope(op))).not.toThrow();
    });

    it(`${op}: what the schema accepts, the validator accepts; invalid variants are refused by both`, () => {
      let accepted = 0;
      let variants = 0;
      fc.assert(
        fc.property(arbitraryOf(schema as Schema), (value) => {
          if (!schemaAccepts(schema, value)) return;
          accepted++;
          expect(validatorAccepts(op, value), JSON.stringify(value)).toBe(true);
          for (const m of mutations(schema as Schema, value)) {
            const bad = m.apply(value);
            variants++;
            expect(schemaAccepts(schema, bad), `schema accepts ${m.path}: ${JSON.stringify(bad)}`).toBe(
              false,
            );
            expect(validatorAccepts(op, bad), `validator accepts ${m.path}: ${JSON.stringify(bad)}`).toBe(
              false,
            );
          }
        }),
        { numRuns: 150 },
      );
      // The generator must mostly produce schema-valid values, or the property says little.
      expect(accepted).toBeGreaterThan(50);
      if (!op.endsWith('.echo')) expect(variants).toBeGreaterThan(accepted);
    });
  }

  for (const [type, opSchema] of Object.entries(FIX_OPERATION_SCHEMAS)) {
    it(`guestkit.fix operation ${type}: schema and validator agree on its options`, () => {
      const fix = OPERATION_PAYLOADS['guestkit.fix'].schema;
      let accepted = 0;
      fc.assert(
        fc.property(arbitraryOf(opSchema as unknown as Schema), (step) => {
          const data = { image: { path: '/images/a.qcow2' }, operations: [step] };
          const ok = schemaAccepts(fix, data);
          if (ok) accepted++;
          // Here both directions hold: the options schemas are exact.
          expect(validatorAccepts('guestkit.fix', data), JSON.stringify(step)).toBe(ok);
          for (const m of ok ? mutations(opSchema as unknown as Schema, step) : []) {
            const bad = { ...data, operations: [m.apply(step)] };
            expect(schemaAccepts(fix, bad), m.path).toBe(false);
            expect(validatorAccepts('guestkit.fix', bad), m.path).toBe(false);
          }
        }),
        { numRuns: 200 },
      );
      expect(accepted).toBeGreaterThan(20);
    });
  }

  it('echo: sleep_ms outside 0..60000 or not an integer is refused by both', () => {
    for (const bad of [{ sleep_ms: -1 }, { sleep_ms: 60_001 }, { sleep_ms: 1.5 }, { sleep_ms: '5' }]) {
      expect(schemaAccepts(OPERATION_PAYLOADS['system.echo'].schema, bad)).toBe(false);
      expect(validatorAccepts('system.echo', bad)).toBe(false);
    }
  });

  it("accepts the original worker's example jobs", () => {
    const dir = join(import.meta.dirname, '../fixtures/original-jobs');
    const jobs = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(jobs.length).toBeGreaterThan(5);
    for (const f of jobs) {
      const job = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        operation: OperationName;
        payload: Json;
      };
      const entry = OPERATION_PAYLOADS[job.operation];
      expect(entry, f).toBeDefined();
      expect(schemaAccepts(entry.schema, job.payload.data), `${f}: ${JSON.stringify(ajv.errors)}`).toBe(true);
      expect(validatorAccepts(job.operation, job.payload.data), f).toBe(true);
    }
  });
});

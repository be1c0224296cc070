// Submit forms generated from the operation payload schemas (src/protocol/payloads), pure: no DOM.
// A schema becomes a flat list of fields keyed by their dotted path (image.path, options.deep_scan);
// the values typed into them become payload.data, with empty fields left out so the worker's
// defaults apply. What a form cannot express (free JSON, arrays of objects) is one JSON field.

type Json = Record<string, unknown>;

export type FieldKind = 'text' | 'number' | 'enum' | 'flag' | 'multi' | 'json';

export interface FormField {
  /** Dotted path inside payload.data; '' when the field is the whole of it. */
  key: string;
  path: string[];
  kind: FieldKind;
  /** Required by the schema, and so is every object above it. */
  required: boolean;
  /** enum: the allowed values; multi: the values to pick from. */
  options?: string[];
  default?: unknown;
  description?: string;
  integer?: boolean;
  min?: number;
  max?: number;
}

/** What the user typed: text for text/number/enum/json, 'true'|'false'|'' for flags, picks for multi. */
export type FormValues = Record<string, string | string[] | undefined>;

export class FormError extends Error {}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `X | null` is X (empty = null = default); of several alternatives the first is the form's. */
function unwrap(s: Json): Json {
  const alternatives = s.anyOf ?? s.oneOf;
  if (!Array.isArray(alternatives)) return s;
  const real = alternatives.filter((a): a is Json => isObj(a) && a.type !== 'null');
  if (real.length === 0) return s;
  return { ...real[0], description: real[0].description ?? s.description };
}

/** The fields of a payload.data schema, in schema order. */
export function formFields(schema: unknown): FormField[] {
  const out: FormField[] = [];
  walk(isObj(schema) ? schema : {}, [], true, out);
  return out;
}

function walk(raw: Json, path: string[], required: boolean, out: FormField[]): void {
  const s = unwrap(raw);
  const base = {
    key: path.join('.'),
    path,
    // payload.data itself may be left empty ({}): only fields inside it are required.
    required: required && path.length > 0,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    ...(s.default !== undefined ? { default: s.default } : {}),
  };
  if (s.type === 'object' && isObj(s.properties)) {
    const req = new Set(Array.isArray(s.required) ? s.required : []);
    for (const [k, sub] of Object.entries(s.properties)) {
      if (isObj(sub)) walk(sub, [...path, k], required && req.has(k), out);
    }
    return;
  }
  if (s.type === 'string' && Array.isArray(s.enum)) {
    out.push({ ...base, kind: 'enum', options: s.enum.map(String) });
  } else if (s.type === 'string') {
    out.push({ ...base, kind: 'text' });
  } else if (s.type === 'integer' || s.type === 'number') {
    out.push({
      ...base,
      kind: 'number',
      integer: s.type === 'integer',
      ...(typeof s.minimum === 'number' ? { min: s.minimum } : {}),
      ...(typeof s.maximum === 'number' ? { max: s.maximum } : {}),
    });
  } else if (s.type === 'boolean') {
    out.push({ ...base, kind: 'flag' });
  } else if (s.type === 'array' && isObj(s.items) && Array.isArray(s.items.enum)) {
    out.push({ ...base, kind: 'multi', options: s.items.enum.map(String) });
  } else {
    out.push({ ...base, kind: 'json' });
  }
}

function valueOf(f: FormField, raw: string | string[] | undefined): unknown {
  const name = f.key || 'payload.data';
  if (Array.isArray(raw)) return f.kind === 'multi' && raw.length > 0 ? raw : undefined;
  const text = (raw ?? '').trim();
  if (text === '') {
    if (f.required) throw new FormError(`${name} is required`);
    return undefined;
  }
  switch (f.kind) {
    case 'number': {
      const n = Number(text);
      if (!Number.isFinite(n) || (f.integer && !Number.isInteger(n))) {
        throw new FormError(`${name} must be ${f.integer ? 'a whole number' : 'a number'}, got '${text}'`);
      }
      return n;
    }
    case 'flag':
      return text === 'true';
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new FormError(`${name} is not valid JSON: ${(err as Error).message}`);
      }
    default:
      return text;
  }
}

/** payload.data from the values; empty optional fields are left out. Throws FormError. */
export function buildData(fields: readonly FormField[], values: FormValues): unknown {
  let data: Json | undefined;
  for (const f of fields) {
    const v = valueOf(f, values[f.key]);
    if (v === undefined) continue;
    if (f.path.length === 0) return v;
    data ??= {};
    let at = data;
    for (const p of f.path.slice(0, -1)) at = (at[p] = isObj(at[p]) ? at[p] : {}) as Json;
    at[f.path[f.path.length - 1]] = v;
  }
  return data ?? {};
}

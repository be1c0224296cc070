// Small typed readers for payload fields: each failure is a VALIDATION_ERROR naming the field,
// in the protocol's "Invalid field value: <field> - <why>" wording.
import { ValidationError } from '../protocol/errors.js';

export type Obj = Record<string, unknown>;

export function invalid(field: string, why: string): ValidationError {
  return new ValidationError(`Invalid field value: ${field} - ${why}`);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, field: string, required = false): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) throw new ValidationError(`Missing required field: ${field}`);
    return undefined;
  }
  if (!isObj(v)) throw invalid(field, 'must be an object');
  return v;
}

export function str(v: unknown, field: string, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw new ValidationError(`Missing required field: ${field}`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') throw invalid(field, 'must be a non-empty string');
  return v;
}

export function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw invalid(field, 'must be true or false');
  return v;
}

export function oneOf<T extends string>(
  v: unknown,
  field: string,
  allowed: readonly T[],
  required = false,
): T | undefined {
  const s = str(v, field, required);
  if (s === undefined) return undefined;
  const lower = s.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(lower)) {
    throw invalid(field, `must be one of ${allowed.join(', ')}, got '${s}'`);
  }
  return lower as T;
}

/**
 * `sha256:<hex>` or bare hex (case-insensitive, whitespace ignored) → lowercase hex; another
 * algorithm or shape is a validation error. Mirrors lib/checksum's parseChecksum without loading
 * the native addon at submission time.
 */
export function checksum(v: unknown, field: string): string | undefined {
  const s = str(v, field);
  if (s === undefined) return undefined;
  let hex = s.trim();
  const colon = hex.indexOf(':');
  if (colon !== -1) {
    const algorithm = hex.slice(0, colon).toLowerCase();
    if (algorithm !== 'sha256') {
      throw new ValidationError(`Unsupported checksum algorithm: ${algorithm}. Only 'sha256' is supported.`, {
        field,
      });
    }
    hex = hex.slice(colon + 1);
  }
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw invalid(field, 'must be sha256:<64 hex digits> or 64 hex digits');
  return hex.toLowerCase();
}

// Job documents arrive as JSON or YAML text (files, REST bodies). Both parse to the same object;
// a parse failure is a VALIDATION_ERROR naming the problem.
import { parse as parseYaml } from 'yaml';
import { ValidationError } from './errors.js';

export type DocumentFormat = 'json' | 'yaml';

/** Picks the parser from a file name: `.yaml`/`.yml` → YAML, anything else → JSON. */
export function formatForFile(name: string): DocumentFormat {
  return /\.ya?ml$/i.test(name) ? 'yaml' : 'json';
}

export function parseJobText(text: string, format: DocumentFormat = 'json'): unknown {
  const trimmed = text.replace(/^\uFEFF/, '');
  if (trimmed.trim() === '') throw new ValidationError('Malformed job document: the document is empty');
  if (format === 'json') {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch (err) {
      throw new ValidationError(`Malformed JSON: ${(err as Error).message}`);
    }
  }
  try {
    // JSON-compatible YAML only: no custom tags, no merge-key surprises, one document.
    return parseYaml(trimmed, {
      schema: 'core',
      merge: false,
      uniqueKeys: true,
      maxAliasCount: 100,
    }) as unknown;
  } catch (err) {
    throw new ValidationError(`Malformed YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** JSON with object keys sorted at every level: equal documents give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src).sort()) out[k] = src[k];
    return out;
  });
}

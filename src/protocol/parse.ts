// Job documents arrive as JSON or YAML text (files, REST bodies). Both parse to the same object;
// a parse failure is a VALIDATION_ERROR naming the problem.
import { parse as parseYaml } from 'yaml';
import { ValidationError } from './errors.js';

export type DocumentFormat = 'json' | 'yaml';

/** Picks the parser from a file name: `.yaml`/`.yml` → YAML, anything else → JSON. */
export function formatForFile(name: string): DocumentFormat {
  return /\.ya?ml$/i.test(name) ? 'yaml' : 'json';
}

/**
 * Budget on a parsed document's expanded size (#14): 99 YAML aliases of one 1 MB string passed the
 * 2 MiB body limit and grew to a ~99 MB job (store, result, every JSON.stringify after). Real job
 * documents are a few KiB.
 */
export const MAX_EXPANDED_BYTES = 4 * 1024 * 1024;

/**
 * The size of `value` written out as JSON, with every alias (shared reference) counted each time it
 * appears, stopping as soon as it passes `budget`. Iterative; visits each expanded node once, and
 * the parser's alias limit keeps that count small.
 */
export function expandedSizeOver(value: unknown, budget: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (v === null || typeof v !== 'object') size += 8;
    else if (Array.isArray(v)) {
      size += 2 + v.length;
      for (const item of v) stack.push(item);
    } else {
      for (const [k, item] of Object.entries(v)) {
        size += k.length + 4;
        stack.push(item);
      }
      size += 2;
    }
    if (size > budget) return true;
  }
  return false;
}

/** Parses a job document (JSON or YAML) and refuses one whose expanded size passes {@link MAX_EXPANDED_BYTES}. */
export function parseJobText(text: string, format: DocumentFormat = 'json'): unknown {
  const doc = parseText(text, format);
  if (expandedSizeOver(doc, MAX_EXPANDED_BYTES)) {
    throw new ValidationError(
      `Job document too large: more than ${MAX_EXPANDED_BYTES} bytes once expanded` +
        (format === 'yaml' ? ' (YAML aliases counted each time they are used)' : '') +
        '; send large data by path, not inline',
    );
  }
  return doc;
}

function parseText(text: string, format: DocumentFormat): unknown {
  const trimmed = text.replace(/^\uFEFF/, '');
  if (trimmed.trim() === '') throw new ValidationError('Malformed job document: the document is empty');
  if (format === 'json') {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch (err) {
      throw new ValidationError(`Malformed JSON: ${(err as Error).message}`);
    }
  }
  const deep = yamlNestingOver(trimmed, MAX_YAML_NESTING);
  if (deep !== undefined) {
    throw new ValidationError(
      `Malformed YAML: nested deeper than ${MAX_YAML_NESTING} levels at line ${deep}; flatten the document`,
    );
  }
  try {
    // JSON-compatible YAML only: no custom tags, no merge-key surprises, one document.
    return parseYaml(trimmed, {
      schema: 'core',
      merge: false,
      uniqueKeys: true,
      maxAliasCount: 100,
      // Unknown tags and the like would otherwise print process warnings per request (log flooding).
      logLevel: 'error',
    }) as unknown;
  } catch (err) {
    throw new ValidationError(`Malformed YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Job documents nest a few levels; the validator refuses anything past 100 anyway. */
const MAX_YAML_NESTING = 100;

/**
 * The line where flow collections (`[`, `{`) or block sequences (`- - -`) nest deeper than `max`,
 * outside quotes. The yaml parser must never see such text: a few hundred KiB of `[` exhaust its
 * memory (the process dies: out of memory in the regexp compiler) and deep block nesting its stack.
 * A linear scan, so cheap next to the parse.
 */
function yamlNestingOver(text: string, max: number): number | undefined {
  let flow = 0;
  let line = 1;
  let dashes = 0; // `- ` markers since the start of the line
  let atLineStart = true;
  let prev = '\n'; // last significant character: a quote opens a scalar only after one of `\n:-[{,?`
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      dashes = 0;
      atLineStart = true;
      if (!quote) prev = '\n';
      continue;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === ' ' || c === '\t') continue;
    if (c === '#' && (text[i - 1] === ' ' || text[i - 1] === '\t' || prev === '\n')) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++; // a comment
      continue;
    }
    if ((c === '"' || c === "'") && '\n:-[{,?'.includes(prev)) quote = c;
    else if (c === '[' || c === '{') flow++;
    else if (c === ']' || c === '}') flow = Math.max(0, flow - 1);
    else if (c === '-' && atLineStart && (text[i + 1] === ' ' || text[i + 1] === '\t')) dashes++;
    else atLineStart = false;
    prev = c;
    if (flow > max || dashes > max) return line;
  }
  return undefined;
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

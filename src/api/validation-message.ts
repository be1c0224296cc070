// One clear line per problem for a request that failed the route schemas (ajv errors): a value
// outside a set of literals (anyOf of consts, as TypeBox writes unions) produced one "must be equal
// to constant" per literal plus "must match a schema in anyOf"; it becomes a single "must be one
// of: a, b, c", naming the query or path parameter as the user typed it.

/** The part of an ajv error this module reads. */
export interface SchemaError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

const PLACES: Record<string, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
  body: 'body field',
};

function where(context: string | undefined, instancePath: string): string {
  const name = instancePath.replace(/^\//, '').split('/').join('.');
  const place = PLACES[context ?? ''] ?? context ?? 'request';
  return name ? `${place} '${name}'` : (context ?? 'request');
}

/** `query parameter 'status' must be one of: pending, …; query parameter 'limit' must be <= 1000`. */
export function validationMessage(context: string | undefined, errors: readonly SchemaError[]): string {
  const byPath = new Map<string, SchemaError[]>();
  for (const e of errors) {
    const path = e.instancePath ?? '';
    byPath.set(path, [...(byPath.get(path) ?? []), e]);
  }
  const lines: string[] = [];
  for (const [path, errs] of byPath) {
    const allowed = errs.flatMap((e) => {
      if (e.keyword === 'const') return [e.params?.allowedValue];
      if (e.keyword === 'enum') return (e.params?.allowedValues as unknown[] | undefined) ?? [];
      return [];
    });
    const rest = errs.filter((e) => e.keyword !== 'const' && e.keyword !== 'enum' && e.keyword !== 'anyOf');
    if (allowed.length > 0)
      lines.push(`${where(context, path)} must be one of: ${allowed.map(String).join(', ')}`);
    for (const m of new Set(rest.map((e) => e.message ?? 'is invalid')))
      lines.push(`${where(context, path)} ${m}`);
    if (allowed.length === 0 && rest.length === 0) lines.push(`${where(context, path)} is invalid`);
  }
  return lines.join('; ');
}

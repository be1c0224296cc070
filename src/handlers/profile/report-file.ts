// Writes a report to `output.destination` (inside the allowed roots) atomically: a temp file in
// the same directory, then rename, so a reader never sees half a report. JSON or YAML, gzip optional.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { stringify } from 'yaml';
import { HandlerError } from '../../protocol/errors.js';
import { resolveAllowedPath } from '../../worker/paths.js';
import type { OutputSpec } from './payload.js';

const gzipAsync = promisify(gzip);

/** Resolves the destination early (before any appliance work) so a bad path fails fast. */
export async function resolveDestination(
  output: OutputSpec,
  allowedRoots: readonly string[],
  field: string,
): Promise<string | null> {
  if (output.destination === null) return null;
  return resolveAllowedPath(output.destination, allowedRoots, { kind: 'target', field });
}

export async function writeReportFile(path: string, output: OutputSpec, report: unknown): Promise<number> {
  const text = output.format === 'yaml' ? stringify(report) : JSON.stringify(report, null, 2) + '\n';
  const body = output.compression === 'gzip' ? await gzipAsync(Buffer.from(text)) : Buffer.from(text);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, body, { mode: 0o644 });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new HandlerError(
      'EXECUTION_ERROR',
      `Cannot write the report to ${path}: ${(err as Error).message}`,
      {
        phase: 'result_generation',
        details: { path },
        cause: err,
      },
    );
  }
  return body.length;
}

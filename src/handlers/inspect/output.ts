// Writing a report to `output.destination`: JSON or YAML, optionally gzip, confined to the allowed
// roots and atomic (temp file + rename), so a reader never sees half a report.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { stringify as toYaml } from 'yaml';
import { writeFileAtomic } from '../../transports/file/atomic.js';
import { resolveAllowedPath } from '../../worker/paths.js';
import type { OutputSpec } from './payload.js';

const gzipP = promisify(gzip);

export function serializeReport(report: unknown, format: 'json' | 'yaml'): string {
  return format === 'yaml' ? toYaml(report, { lineWidth: 0 }) : JSON.stringify(report, null, 2) + '\n';
}

/**
 * Writes `report` per `output`; returns the real path written, or null when no destination.
 * Reports `bytes` written through `onWrite` (disk_write metrics).
 */
export async function writeReport(
  report: unknown,
  output: OutputSpec,
  allowedRoots: readonly string[],
  onWrite?: (bytes: number) => void,
): Promise<string | null> {
  if (!output.destination) return null;
  const path = await resolveAllowedPath(output.destination, allowedRoots, {
    kind: 'target',
    field: 'payload.data.output.destination',
  });
  const text = serializeReport(report, output.format);
  // gzip runs on the libuv pool, not the JS thread.
  const data = output.compression === 'gzip' ? await gzipP(Buffer.from(text)) : Buffer.from(text);
  await writeFileAtomic(path, data);
  onWrite?.(data.length);
  return path;
}

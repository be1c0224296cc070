// Writing a report to `output.destination`: JSON or YAML, optionally gzip, under the one output
// rule (worker/outputs: confined, never clobbering, no symlink followed), published whole.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { stringify as toYaml } from 'yaml';
import { resolveOutputPath, writeOutputFile, type OutputConfig } from '../../worker/outputs.js';
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
  config: OutputConfig | readonly string[],
  onWrite?: (bytes: number) => void,
): Promise<string | null> {
  if (!output.destination) return null;
  const field = 'payload.data.output.destination';
  const path = await resolveOutputPath(output.destination, config, field);
  const text = serializeReport(report, output.format);
  // gzip runs on the libuv pool, not the JS thread.
  const data = output.compression === 'gzip' ? await gzipP(Buffer.from(text)) : Buffer.from(text);
  const written = await writeOutputFile(path, data, config, field);
  onWrite?.(data.length);
  return written;
}

// Shared plumbing of the client commands (submit, status, result, list, cancel, events,
// capabilities, health): connection flags, output formats, exit codes, progress bars.
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { stringify } from 'yaml';
import type { JobStatus, ProgressEvent } from '../protocol/schema.js';
import { TERMINAL_STATUSES } from '../protocol/vocabulary.js';
import { ApiClientError, DEFAULT_API_URL, WorkerClient } from './client.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface ClientCommandOptions {
  apiUrl?: string;
  apiToken?: string;
  output: OutputFormat;
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Adds --api-url, --api-token, --output and makes commander's own usage errors exit 2. */
export function clientCommand(cmd: Command): Command {
  return cmd
    .option('--api-url <url>', `worker API URL (GUESTKIT_WORKER_API_URL, default ${DEFAULT_API_URL})`)
    .option('--api-token <token>', 'bearer token (GUESTKIT_API_TOKEN)')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .exitOverride((err) => {
      // commander already printed the message; help and version are not errors.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
}

export function clientFor(o: ClientCommandOptions): WorkerClient {
  if (o.apiUrl !== undefined && !/^https?:\/\/[^/]/.test(o.apiUrl)) {
    throw new UsageError(`Invalid --api-url '${o.apiUrl}': expected http://host:port`);
  }
  return new WorkerClient({ baseUrl: o.apiUrl, token: o.apiToken });
}

/** Writes data as JSON/YAML, or the table text the command rendered. */
export function print(format: OutputFormat, data: unknown, table: () => string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(stringify(data));
  else process.stdout.write(table().replace(/\n?$/, '\n'));
}

/** Messages go to stderr so stdout stays pure JSON/YAML. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs an action, turning failures into a message and the exit code (2 usage, 1 anything else). */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (err) {
      if (err instanceof UsageError) {
        say(`error: ${err.message}`);
        process.exitCode = 2;
      } else if (err instanceof ApiClientError) {
        say(err.code === 'UNREACHABLE' ? err.message : `error: ${err.code}: ${err.message}`);
        process.exitCode = 1;
      } else {
        say(`error: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      }
    }
  };
}

/** Aligned columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `key: value` lines for one document. */
export function keyValues(pairs: [string, unknown][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${`${k}:`.padEnd(width + 1)} ${v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
    )
    .join('\n');
}

export function parseIntOption(value: string, what: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`Invalid ${what} '${value}': an integer ≥ ${min}`);
  return n;
}

/** A job progress bar on stderr, only on a terminal. */
export interface JobBar {
  update(percent: number, phase: string, message: string): void;
  stop(): void;
}

export function jobBar(jobId: string, enabled = process.stderr.isTTY === true): JobBar {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${jobId} [{bar}] {percentage}% {phase}: {message}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { phase: 'pending', message: '' });
  return {
    update: (percent, phase, message) =>
      bar.update(Math.round(percent), { phase, message: message.slice(0, 60) }),
    stop: () => bar.stop(),
  };
}

export const TERMINAL: readonly string[] = TERMINAL_STATUSES;

/**
 * Follows a job to its end over SSE, calling onProgress for each progress event; falls back to
 * polling if the stream breaks. Resolves with the terminal status.
 */
export async function followJob(
  client: WorkerClient,
  jobId: string,
  onProgress: (e: ProgressEvent) => void,
  after?: number,
): Promise<JobStatus> {
  let last = after ?? -1;
  try {
    for await (const f of client.events(jobId, { after })) {
      if (f.type === 'progress') {
        last = f.event.sequence;
        onProgress(f.event);
      } else if (f.type === 'end') return f.status;
    }
  } catch (err) {
    if (!(err instanceof ApiClientError) || err.status !== undefined) throw err;
    // The stream broke (server restart, proxy): polling still gets us to the end.
  }
  const doc = await client.waitFor(jobId);
  for (const e of await eventsAfter(client, jobId, last)) onProgress(e);
  return doc.status;
}

async function eventsAfter(client: WorkerClient, jobId: string, after: number): Promise<ProgressEvent[]> {
  const out: ProgressEvent[] = [];
  try {
    for await (const f of client.events(jobId, { after })) if (f.type === 'progress') out.push(f.event);
  } catch {
    /* best effort */
  }
  return out;
}

// `guestkit-worker submit`: send a job to the worker API — from a JSON/YAML file, inline JSON, or
// a quick job built from flags (`--operation guestkit.inspect --image P`) — and optionally wait
// for it, following its progress, then print the result.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { inspectJob, JobBuilder } from '../../protocol/builder.js';
import { formatForFile, parseJobText } from '../../protocol/parse.js';
import type { JobEnvelope } from '../../protocol/schema.js';
import {
  action,
  clientCommand,
  clientFor,
  followJob,
  jobBar,
  parseIntOption,
  print,
  say,
  UsageError,
  type ClientCommandOptions,
} from '../api-command.js';
import { ApiClientError, type WorkerClient } from '../client.js';
import { colorWanted, renderResult } from '../render/index.js';

interface SubmitOptions extends ClientCommandOptions {
  file?: string;
  json?: string;
  operation?: string;
  image?: string;
  format?: string;
  checksum?: string;
  data?: string;
  priority?: string;
  timeout?: string;
  idempotencyKey?: string;
  wait?: boolean;
  full?: boolean;
  dryRun?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The document to send: text as given (the server validates it) or an envelope built from flags. */
async function jobFrom(o: SubmitOptions): Promise<{ body: unknown; yaml: boolean }> {
  const sources = [o.file, o.json, o.operation].filter((x) => x !== undefined).length;
  if (sources !== 1) {
    throw new UsageError(
      'give exactly one of --file <path>, --json <document> or --operation <op> (with --image or --data)',
    );
  }
  if (o.file !== undefined) {
    const text = o.file === '-' ? await readStdin() : await readFile(o.file, 'utf8');
    const yaml = o.file === '-' ? !/^\s*\{/.test(text) : formatForFile(o.file) === 'yaml';
    // Parse locally too, so a broken file fails before a round trip with a precise message.
    parseJobText(text, yaml ? 'yaml' : 'json');
    return { body: text, yaml };
  }
  if (o.json !== undefined) return { body: parseJobText(o.json, 'json'), yaml: false };
  const op = o.operation as string;
  let envelope: JobEnvelope;
  if (o.image !== undefined) {
    if (op !== 'guestkit.inspect' && op !== 'guestkit.profile') {
      throw new UsageError(`--image builds guestkit.inspect jobs; for ${op} give the payload with --data`);
    }
    // Relative to where the user typed it, not to the daemon's directory.
    envelope = inspectJob(resolve(o.image), { format: o.format, checksum: o.checksum });
    if (op !== 'guestkit.inspect') {
      envelope = new JobBuilder<string>(op).payload(`${op}.v1`, envelope.payload.data).build();
    }
  } else {
    const data = o.data === undefined ? {} : parseJobText(o.data, 'json');
    envelope = new JobBuilder(op).payload(`${op}.v1`, data).build();
  }
  if (o.priority !== undefined)
    envelope.execution = { ...envelope.execution, priority: parseIntOption(o.priority, '--priority', 1) };
  if (o.timeout !== undefined) {
    envelope.execution = {
      ...envelope.execution,
      timeout_seconds: parseIntOption(o.timeout, '--timeout', 1),
    };
  }
  if (o.idempotencyKey !== undefined)
    envelope.execution = { ...envelope.execution, idempotency_key: o.idempotencyKey };
  return { body: envelope, yaml: false };
}

/** Protocol fields a quick job is built from, and the flag that set each. */
const FLAG_OF_FIELD: [string, string][] = [
  ['payload.data.image.checksum', '--checksum'],
  ['payload.data.image.format', '--format'],
  ['payload.data.image.path', '--image'],
  ['payload.data.image', '--image'],
  ['execution.timeout_seconds', '--timeout'],
  ['execution.priority', '--priority'],
  ['execution.idempotency_key', '--idempotency-key'],
  ['operation', '--operation'],
];

/** A refusal of a job built from flags names the flags the user typed, not protocol fields. */
export function inFlagTerms(err: ApiClientError): ApiClientError {
  let message = err.message;
  for (const [field, flag] of FLAG_OF_FIELD) message = message.split(field).join(flag);
  return message === err.message ? err : new ApiClientError(err.code, message, err.status, err.details);
}

/** Waits for the job with a progress bar, prints the result document; exit 1 unless completed. */
export async function waitAndPrintResult(
  client: WorkerClient,
  jobId: string,
  o: ClientCommandOptions & { full?: boolean },
  operation?: string,
): Promise<number> {
  const bar = jobBar(jobId);
  let status;
  try {
    status = await followJob(client, jobId, (e) => bar.update(e.progress_percent, e.phase, e.message));
  } finally {
    bar.stop();
  }
  const result = await client.result(jobId);
  print(o.output, result, () => renderResult(result, operation, { full: o.full, color: colorWanted() }));
  if (status !== 'completed') say(`job ${jobId} ended ${status}`);
  return status === 'completed' ? 0 : 1;
}

export function registerSubmit(program: Command): void {
  clientCommand(
    program
      .command('submit')
      .description('Submit a job to the worker API (file, inline JSON, or a quick job from flags)')
      .option('-f, --file <path>', 'job document, JSON or YAML by extension ("-" reads stdin)')
      .option('--json <document>', 'job document as inline JSON')
      .option('--operation <op>', 'build a job for this operation (e.g. guestkit.inspect, system.echo)')
      .option('--image <path>', 'disk image for a quick guestkit.inspect job')
      .option('--format <fmt>', 'image format for --image (qcow2, raw, …; detected when omitted)')
      .option('--checksum <sha256>', 'expected image checksum for --image')
      .option('--data <json>', 'payload data for --operation (JSON)')
      .option('--priority <1-10>', 'execution.priority for a built job')
      .option('--timeout <seconds>', 'execution.timeout_seconds for a built job')
      .option('--idempotency-key <key>', 'execution.idempotency_key for a built job')
      .option('--wait', 'wait for the job to end, show progress, print its result (exit 1 unless completed)')
      .option('--full', 'with --wait: every package, finding and change instead of the first ones')
      .option('--dry-run', 'print the job document instead of submitting it'),
  ).action(
    action(async (o: SubmitOptions) => {
      const client = clientFor(o);
      const { body, yaml } = await jobFrom(o);
      if (o.dryRun) {
        const doc = typeof body === 'string' ? parseJobText(body, yaml ? 'yaml' : 'json') : body;
        print(o.output === 'table' ? 'json' : o.output, doc, () => '');
        return 0;
      }
      const fromFlags = o.operation !== undefined;
      const r = await client.submit(body, { contentType: yaml ? 'yaml' : 'json' }).catch((err: unknown) => {
        throw fromFlags && err instanceof ApiClientError ? inFlagTerms(err) : err;
      });
      if (o.wait) {
        say(r.message);
        const operation =
          typeof body === 'object' && body !== null ? (body as JobEnvelope).operation : undefined;
        return waitAndPrintResult(client, r.job_id, o, operation);
      }
      print(o.output, r, () => `${r.message} (status: ${r.status})`);
    }),
  );
}

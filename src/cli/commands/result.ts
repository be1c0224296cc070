// `guestkit-worker result <job-id> [--save file]`: the result document of a finished job, rendered
// for its operation (or as JSON/YAML). `--file` renders a saved result document, no daemon needed.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ResultDocument } from '../../protocol/schema.js';
import {
  action,
  clientCommand,
  clientFor,
  print,
  say,
  UsageError,
  type ClientCommandOptions,
} from '../api-command.js';
import { colorWanted, renderResult } from '../render/index.js';

interface ResultOptions extends ClientCommandOptions {
  save?: string;
  file?: string;
  full?: boolean;
}

async function fromFile(path: string): Promise<ResultDocument> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--file ${path}: not a readable JSON result document (${(err as Error).message})`);
  }
  const d = doc as Partial<ResultDocument>;
  if (typeof d.job_id !== 'string' || typeof d.status !== 'string' || !d.execution_summary) {
    throw new UsageError(`--file ${path}: not a result document (job_id, status, execution_summary missing)`);
  }
  return doc as ResultDocument;
}

export function registerResult(program: Command): void {
  clientCommand(
    program
      .command('result')
      .description('Print the result document of a finished job (exit 1 unless it completed)')
      .argument('[job-id]', 'job id (or --file)')
      .option('--file <path>', 'render a saved result document (<results-dir>/<job-id>-result.json) instead')
      .option('--save <file>', 'also write the result document (JSON) to this file')
      .option('--full', 'every package, finding and change instead of the first ones'),
  ).action(
    action(async (jobId: string | undefined, o: ResultOptions) => {
      if ((jobId === undefined) === (o.file === undefined))
        throw new UsageError('give a job id or --file <result.json>, not both');
      let result: ResultDocument;
      let operation: string | undefined;
      if (o.file !== undefined) {
        result = await fromFile(o.file);
      } else {
        const client = clientFor(o);
        result = await client.result(jobId!);
        if (o.output === 'table') operation = (await client.status(jobId!)).operation;
      }
      if (o.save) {
        await writeFile(o.save, `${JSON.stringify(result, null, 2)}\n`);
        say(`result of ${result.job_id} saved to ${o.save}`);
      }
      print(o.output, result, () => renderResult(result, operation, { full: o.full, color: colorWanted() }));
      return result.status === 'completed' ? 0 : 1;
    }),
  );
}

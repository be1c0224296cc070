// `guestkit-worker result <job-id> [--save file]`: the result document of a finished job.
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  action,
  clientCommand,
  clientFor,
  keyValues,
  print,
  say,
  type ClientCommandOptions,
} from '../api-command.js';

interface ResultOptions extends ClientCommandOptions {
  save?: string;
}

export function registerResult(program: Command): void {
  clientCommand(
    program
      .command('result')
      .description('Print the result document of a finished job (exit 1 unless it completed)')
      .argument('<job-id>', 'job id')
      .option('--save <file>', 'also write the result document (JSON) to this file'),
  ).action(
    action(async (jobId: string, o: ResultOptions) => {
      const result = await clientFor(o).result(jobId);
      if (o.save) {
        await writeFile(o.save, `${JSON.stringify(result, null, 2)}\n`);
        say(`result of ${jobId} saved to ${o.save}`);
      }
      print(o.output, result, () =>
        keyValues([
          ['job_id', result.job_id],
          ['status', result.status],
          ['worker_id', result.worker_id],
          ['finished_at', result.completed_at ?? result.failed_at],
          ['duration_seconds', result.execution_summary.duration_seconds],
          ['attempt', result.execution_summary.attempt],
          ['error', result.error ? `${result.error.code}: ${result.error.message}` : undefined],
          ['output', result.outputs.primary],
          ['data', result.data === undefined ? undefined : JSON.stringify(result.data)],
        ]),
      );
      return result.status === 'completed' ? 0 : 1;
    }),
  );
}

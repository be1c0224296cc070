// `guestkit-worker status <job-id> [--watch]`: one job's status; --watch follows it to the end.
import type { Command } from 'commander';
import type { JobStatusDocument } from '../../worker/types.js';
import { renderError } from '../render/index.js';
import {
  action,
  clientCommand,
  clientFor,
  keyValues,
  parseIntOption,
  print,
  TERMINAL,
  type ClientCommandOptions,
} from '../api-command.js';

interface StatusOptions extends ClientCommandOptions {
  watch?: boolean;
  interval: string;
}

export function statusTable(d: JobStatusDocument): string {
  return (
    keyValues([
      ['job_id', d.job_id],
      ['operation', d.operation],
      ['status', d.status],
      ['attempt', `${d.attempt}/${d.max_attempts}`],
      ['priority', d.priority],
      ['submitted_at', d.submitted_at],
      ['started_at', d.started_at],
      ['completed_at', d.completed_at],
      ['worker_id', d.worker_id],
      ['progress', d.progress ? `${d.progress.percent}% ${d.progress.phase}: ${d.progress.message}` : null],
    ]) + (d.error ? `\n${renderError(d.error)}` : '')
  );
}

const line = (d: JobStatusDocument) =>
  `${new Date().toISOString()}  ${d.status}${d.progress ? `  ${d.progress.percent}% ${d.progress.phase}: ${d.progress.message}` : ''}`;

export function registerStatus(program: Command): void {
  clientCommand(
    program
      .command('status')
      .description('Show the status of a job')
      .argument('<job-id>', 'job id')
      .option('-w, --watch', 'follow the job until it ends (exit 1 unless it completed)')
      .option('--interval <ms>', 'polling interval for --watch', '1000'),
  ).action(
    action(async (jobId: string, o: StatusOptions) => {
      const client = clientFor(o);
      const intervalMs = parseIntOption(o.interval, '--interval', 50);
      if (!o.watch) {
        const d = await client.status(jobId);
        print(o.output, d, () => statusTable(d));
        return 0;
      }
      const d = await client.waitFor(jobId, {
        intervalMs,
        onChange: (doc) => {
          if (o.output === 'table') process.stdout.write(`${line(doc)}\n`);
        },
      });
      if (o.output === 'table') process.stdout.write(`${statusTable(d)}\n`);
      else print(o.output, d, () => '');
      return TERMINAL.includes(d.status) && d.status === 'completed' ? 0 : 1;
    }),
  );
}

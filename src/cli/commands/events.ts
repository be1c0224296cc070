// `guestkit-worker events <job-id>`: follow a job's progress live (Server-Sent Events) until it
// ends. A terminal shows a progress bar; otherwise one line per event (NDJSON with --output json).
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { ProgressEvent } from '../../protocol/schema.js';
import {
  action,
  clientCommand,
  clientFor,
  followJob,
  jobBar,
  parseIntOption,
  say,
  type ClientCommandOptions,
} from '../api-command.js';

interface EventsOptions extends ClientCommandOptions {
  after?: string;
}

export function registerEvents(program: Command): void {
  clientCommand(
    program
      .command('events')
      .description('Follow the progress of a job until it ends (exit 1 unless it completed)')
      .argument('<job-id>', 'job id')
      .option('--after <sequence>', 'only events with a greater sequence'),
  ).action(
    action(async (jobId: string, o: EventsOptions) => {
      const after = o.after === undefined ? undefined : parseIntOption(o.after, '--after', -1);
      const bar = jobBar(
        jobId,
        o.output === 'table' && process.stdout.isTTY === true && process.stderr.isTTY === true,
      );
      const onProgress = (e: ProgressEvent) => {
        if (o.output === 'json') process.stdout.write(`${JSON.stringify(e)}\n`);
        else if (o.output === 'yaml') process.stdout.write(`---\n${stringify(e)}`);
        else if (process.stdout.isTTY) bar.update(e.progress_percent, e.phase, e.message);
        else
          process.stdout.write(
            `[${e.sequence}] ${e.timestamp} ${e.phase} ${e.progress_percent}% ${e.message}\n`,
          );
      };
      let status;
      try {
        status = await followJob(clientFor(o), jobId, onProgress, after);
      } finally {
        bar.stop();
      }
      say(`job ${jobId} ended ${status}`);
      return status === 'completed' ? 0 : 1;
    }),
  );
}

// `guestkit-worker cancel <job-id>`: cancel a pending or running job.
import type { Command } from 'commander';
import { action, clientCommand, clientFor, print, type ClientCommandOptions } from '../api-command.js';

export function registerCancel(program: Command): void {
  clientCommand(
    program
      .command('cancel')
      .description('Cancel a job (exit 1 if it already ended or is not cancellable)')
      .argument('<job-id>', 'job id'),
  ).action(
    action(async (jobId: string, o: ClientCommandOptions) => {
      const r = await clientFor(o).cancel(jobId);
      print(o.output, r, () => r.message);
    }),
  );
}

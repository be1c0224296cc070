// `guestkit-worker list`: jobs, newest first, filtered and paginated by the server; each with how
// far it got (or how it ended), its error code and its image.
import { Option, type Command } from 'commander';
import type { JobStatus } from '../../protocol/schema.js';
import { JOB_STATUSES } from '../../protocol/vocabulary.js';
import { isTerminal, type JobStatusDocument, type ListQuery } from '../../worker/types.js';
import {
  action,
  clientCommand,
  clientFor,
  parseIntOption,
  print,
  say,
  table,
  type ClientCommandOptions,
} from '../api-command.js';

interface ListOptions extends ClientCommandOptions {
  status?: JobStatus;
  operation?: string;
  limit: string;
  cursor?: string;
}

/** Live jobs: percent and phase; finished ones how they ended, not a frozen partial figure. */
function progressCell(j: JobStatusDocument): string {
  if (j.status === 'completed') return 'done';
  if (isTerminal(j.status)) return j.progress ? `stopped in ${j.progress.phase}` : '-';
  return j.progress ? `${j.progress.percent}% ${j.progress.phase}` : '-';
}

export function registerList(program: Command): void {
  clientCommand(
    program
      .command('list')
      .description('List jobs, newest first')
      .addOption(new Option('-s, --status <status>', 'only jobs in this status').choices(JOB_STATUSES))
      .option('--operation <op>', 'only jobs of this operation')
      .option('-n, --limit <n>', 'page size (1-1000)', '100')
      .option('--cursor <cursor>', 'next_cursor of the previous page'),
  ).action(
    action(async (o: ListOptions) => {
      const query: ListQuery = { limit: parseIntOption(o.limit, '--limit', 1) };
      if (o.status) query.status = o.status;
      if (o.operation) query.operation = o.operation;
      if (o.cursor) query.cursor = o.cursor;
      const page = await clientFor(o).list(query);
      print(o.output, page, () =>
        table(
          ['JOB ID', 'OPERATION', 'STATUS', 'ATTEMPT', 'SUBMITTED', 'PROGRESS', 'ERROR', 'IMAGE'],
          page.jobs.map((j) => [
            j.job_id,
            j.operation,
            j.status,
            String(j.attempt),
            j.submitted_at,
            progressCell(j),
            j.error ? j.error.code : '-',
            j.image ?? '-',
          ]),
        ),
      );
      if (o.output === 'table') {
        say(
          `${page.jobs.length} of ${page.total} job(s)${page.next_cursor ? `; next page: --cursor ${page.next_cursor}` : ''}`,
        );
      }
    }),
  );
}

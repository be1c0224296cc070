// `guestkit-worker capabilities`: what the worker can do (operations, features, disk formats).
import type { Command } from 'commander';
import {
  action,
  clientCommand,
  clientFor,
  keyValues,
  print,
  type ClientCommandOptions,
} from '../api-command.js';

export function registerCapabilities(program: Command): void {
  clientCommand(
    program
      .command('capabilities')
      .description('Show the worker registration: operations, features, formats, limits'),
  ).action(
    action(async (o: ClientCommandOptions) => {
      const c = await clientFor(o).capabilities();
      print(o.output, c, () =>
        keyValues([
          ['worker_id', c.worker_id],
          ['version', c.version],
          ['hostname', c.hostname],
          ['pool', c.pool],
          ['state', c.status.state],
          ['current_jobs', c.status.current_jobs],
          ['max_concurrent_jobs', c.max_concurrent_jobs],
          ['max_disk_size_gb', c.max_disk_size_gb],
          ['operations', c.operations.join(', ')],
          ['features', c.features.join(', ') || '-'],
          ['disk_formats', c.disk_formats.join(', ')],
        ]),
      );
    }),
  );
}

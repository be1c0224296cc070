// `guestkit-worker health`: the worker's health checks (exit 1 when unhealthy).
import type { Command } from 'commander';
import { action, clientCommand, clientFor, print, table, type ClientCommandOptions } from '../api-command.js';

export function registerHealth(program: Command): void {
  clientCommand(
    program
      .command('health')
      .description('Check the worker: store, queue, libguestfs (exit 1 when unhealthy)'),
  ).action(
    action(async (o: ClientCommandOptions) => {
      const h = await clientFor(o).health();
      print(o.output, h, () =>
        [
          `status: ${h.status} (up ${Math.round(h.uptime_seconds)} s)`,
          table(
            ['CHECK', 'STATUS', 'DETAIL'],
            Object.entries(h.checks).map(([name, c]) => [name, c.status, c.message ?? '']),
          ),
        ].join('\n'),
      );
      return h.status === 'unhealthy' ? 1 : 0;
    }),
  );
}

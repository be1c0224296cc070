#!/usr/bin/env node
// guestkit-worker command line: one module per command under ./commands.
import { Command } from 'commander';
import { registerChecksum } from './commands/checksum.js';
import { registerDaemon } from './commands/daemon.js';

const program = new Command();
program.name('guestkit-worker').description('Job-processing worker for virtual-machine disk operations');
// Command registrations (one line each; keep sorted by command name):
registerChecksum(program);
registerDaemon(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

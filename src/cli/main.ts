#!/usr/bin/env node
// guestkit-worker command line: one module per command under ./commands.
import { Command } from 'commander';
import { WORKER_VERSION } from '../config.js';
import { registerCancel } from './commands/cancel.js';
import { registerCapabilities } from './commands/capabilities.js';
import { registerChecksum } from './commands/checksum.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEvents } from './commands/events.js';
import { registerExplore } from './commands/explore.js';
import { registerHealth } from './commands/health.js';
import { registerInspect } from './commands/inspect.js';
import { registerList } from './commands/list.js';
import { registerResult } from './commands/result.js';
import { registerStatus } from './commands/status.js';
import { registerSubmit } from './commands/submit.js';

const program = new Command();
program
  .name('guestkit-worker')
  .description('Job-processing worker for virtual-machine disk operations')
  .version(WORKER_VERSION, '-V, --version', 'print the version and exit')
  // Usage errors (unknown command or option, missing argument) exit 2, as interfaces.md documents.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
// Command registrations (one line each; keep sorted by command name):
registerCancel(program);
registerCapabilities(program);
registerChecksum(program);
registerDaemon(program);
registerDoctor(program);
registerEvents(program);
registerExplore(program);
registerHealth(program);
registerInspect(program);
registerList(program);
registerResult(program);
registerStatus(program);
registerSubmit(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

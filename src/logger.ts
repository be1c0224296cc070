// Structured logging (pino, JSON lines). One root logger per process; jobs log through child
// loggers carrying job_id, operation, attempt and the job's trace ids.
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: LogLevel;
  /** Static fields on every line (e.g. worker_id). */
  base?: Record<string, unknown>;
  /** Where lines go (default: stdout). */
  destination?: DestinationStream;
  /** Write synchronously (daemons that exit right after logging). Default false. */
  sync?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: options.sync ?? false }),
  );
}

/** A logger that drops everything (library default when the caller gives none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

// Structured logging (pino, JSON lines; pino-pretty lines for a person at a terminal). One root logger per process; jobs log through child
// loggers carrying job_id, operation, attempt and the job's trace ids.
import { createRequire } from 'node:module';
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
  /**
   * Lines for people (pino-pretty: time, level, message, then the fields; colour on a terminal)
   * instead of JSON. Ignored with `destination`. Default false.
   */
  pretty?: boolean;
}

/** Fields every line carries that a person at a terminal does not need repeated. */
const PRETTY_IGNORE = 'pid,hostname,worker_id';

function prettyStream(sync: boolean): DestinationStream | undefined {
  // Loaded only when asked for: JSON logging (services, the library) never pays for it.
  let build: (typeof import('pino-pretty'))['build'];
  try {
    ({ build } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty'));
  } catch (err) {
    // An install without it (a tree not yet re-installed) still logs, as JSON.
    process.stderr.write(
      `pretty logs unavailable (${(err as Error).message.split('\n')[0]}); logging JSON\n`,
    );
    return undefined;
  }
  return build({
    destination: 1,
    sync,
    colorize: process.stdout.isTTY === true && !process.env.NO_COLOR,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: PRETTY_IGNORE,
    singleLine: true,
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ??
      (options.pretty ? prettyStream(options.sync ?? false) : undefined) ??
      pino.destination({ dest: 1, sync: options.sync ?? false }),
  );
}

/** A logger that drops everything (library default when the caller gives none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

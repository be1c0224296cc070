// Runs the compiled daemon (dist/) as a child process for integration tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../lib/native.js';

export const MAIN = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Compiles src/ and lib/ to dist/ when the sources are newer (serialised across test files). */
export function ensureDist(): void {
  const stale = () =>
    !existsSync(MAIN) ||
    statSync(MAIN).mtimeMs <
      Math.max(newestMtime(join(PACKAGE_ROOT, 'src')), newestMtime(join(PACKAGE_ROOT, 'lib')));
  if (!stale()) return;
  // tsc still emits when another module has type errors; what matters is that main.js exists.
  spawnSync('flock', ['/tmp/guestkit-dist.lock', 'npx', 'tsc', '-p', 'tsconfig.build.json'], {
    cwd: PACKAGE_ROOT,
    stdio: 'ignore',
  });
  if (!existsSync(MAIN)) throw new Error('could not build dist/ (npx tsc -p tsconfig.build.json)');
}

export interface DaemonProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: string[];
  waitForLog(msg: string, ms?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const child = spawn(
    process.execPath,
    [MAIN, 'daemon', '--api-enabled', 'false', '--metrics-enabled', 'false', ...args],
    { cwd: PACKAGE_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buf = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        for (const w of waiters.filter((x) => x.msg === entry.msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(entry);
        }
      } catch {
        stderr.push(line);
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => stderr.push(c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    stderr,
    exited,
    waitForLog(msg, ms = 30_000) {
      const found = logs.find((l) => l.msg === msg);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no '${msg}' log within ${ms} ms; stderr: ${stderr.join('')}`)),
          ms,
        );
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

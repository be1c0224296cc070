// Helpers for the distributed suite: a redis-server of its own (appendonly, restartable on the
// same port and dir), compiled daemons (a private snapshot of dist/, see api-helpers buildDist)
// started from the README's "Scaling out" commands, and small HTTP/metrics clients.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { mainJs } from './api-helpers.js';

export const ROOT = join(import.meta.dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** The token the suite's API nodes get for the README's `--api-token "$GUESTKIT_API_TOKEN"`. */
export const API_TOKEN = 'distributed-suite-token';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

export class RedisServer {
  child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      '/usr/bin/redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes'],
      { cwd: this.dir, stdio: 'ignore' },
    );
    const { Redis } = await import('ioredis');
    await until('redis-server to answer', async () => {
      const r = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined);
      try {
        await r.connect();
        // Loading the AOF answers -LOADING: wait until it is really up.
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  }

  /** SIGTERM: Redis fsyncs the AOF and exits. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
}

export interface Node {
  child: ChildProcess;
  workerId: string;
  apiUrl?: string;
  metricsUrl?: string;
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<void>;
}

/** The `guestkit-worker daemon …` lines of the README's "Scaling out" section. */
export function readmeDaemonCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## Scaling out')[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((l) => l.startsWith('guestkit-worker daemon '))
    .map((l) => l.replace(/\s*&\s*$/, ''));
}

/** Runs one README daemon line against this suite's Redis, on free loopback ports. */
export async function startNode(
  command: string,
  redisUrl: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<Node> {
  const args = command
    .replace(/^guestkit-worker /, '')
    // The README's commands run in a shell: expand the token variable as it would.
    .replaceAll('"$GUESTKIT_API_TOKEN"', API_TOKEN)
    .replaceAll('redis://127.0.0.1:6379', redisUrl)
    .replace(/0\.0\.0\.0:\d+/g, '127.0.0.1:0')
    .split(/\s+/);
  const child = spawn(process.execPath, [mainJs(), ...args, '--log-level', 'info'], {
    cwd,
    env: { ...process.env, GUESTKIT_API_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        stderr.push(line);
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => stderr.push(c));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await until(
    `daemon ready (${command})`,
    async () => {
      if (child.exitCode !== null) throw new Error(`daemon exited: ${stderr.join('')}`);
      return logs.find((l) => l.msg === 'daemon ready');
    },
    90_000,
  );
  const api = logs.find((l) => l.msg === 'REST API listening');
  const metrics = logs.find((l) => l.msg === 'metrics listening');
  return {
    child,
    workerId: String(ready.worker_id),
    apiUrl: api ? `http://${String(api.address)}` : undefined,
    metricsUrl: metrics ? `http://${String(metrics.address)}` : undefined,
    logs,
    stderr,
    exited,
  };
}

export async function stopNode(n: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return;
  n.child.kill(signal);
  const t = setTimeout(() => n.child.kill('SIGKILL'), 20_000);
  await n.exited;
  clearTimeout(t);
}

export async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** One sample value of a Prometheus text exposition (0 when absent). */
export async function metric(base: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || l === `${name}${labels}`);
  return line ? Number(line.split(' ').pop()) : 0;
}

export function echoJob(id: string, data: Record<string, unknown>, execution: Record<string, unknown> = {}) {
  return {
    version: '1.0',
    job_id: id,
    created_at: new Date().toISOString(),
    kind: 'VMOperation',
    operation: 'system.echo',
    payload: { type: 'system.echo.v1', data },
    execution,
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

// Helpers for the API/CLI/metrics integration suites: compile once (tsc → dist), spawn the real
// daemon on ephemeral ports (read back from its log), run the compiled CLI as a child process.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
const DIST_MAIN = join(ROOT, 'dist/src/cli/main.js');
let snapshotMain: string | undefined;

/** The compiled CLI this suite runs (a private snapshot of dist/, see buildDist). */
export function mainJs(): string {
  if (!snapshotMain) throw new Error('call buildDist() first');
  return snapshotMain;
}

/**
 * `npx tsc -p tsconfig.build.json` unless dist is newer than every source, then a private copy of
 * dist/ (with package.json, the native addons and node_modules linked beside it) so another suite recompiling dist/ while ours
 * runs cannot hand our child processes half-written modules. The lock is the one every suite
 * that compiles dist/ uses.
 */
export function buildDist(): string {
  const snap = mkdtempSync(join(tmpdir(), 'guestkit-dist-snap-'));
  const fresh = `test -e '${DIST_MAIN}' && test -z "$(find src lib -name '*.ts' -newer '${DIST_MAIN}' | head -n 1)"`;
  const link = ['package.json', 'native', 'node_modules'].map((f) => `'${join(ROOT, f)}'`).join(' ');
  try {
    execFileSync(
      'flock',
      [
        '/tmp/guestkit-dist.lock',
        'sh',
        '-c',
        `{ ${fresh} || npx tsc -p tsconfig.build.json; }; cp -r dist '${snap}/dist'`,
      ],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing entry point is fatal.
  }
  execFileSync('sh', ['-c', `ln -s ${link} '${snap}/'`]);
  snapshotMain = join(snap, 'dist/src/cli/main.js');
  if (!existsSync(snapshotMain)) throw new Error(`tsc did not produce ${DIST_MAIN}`);
  return snapshotMain;
}

/** Removes the snapshot (afterAll). */
export function cleanupDist(): void {
  if (snapshotMain) rmSync(join(snapshotMain, '../../../..'), { recursive: true, force: true });
  snapshotMain = undefined;
}

export interface Daemon {
  url: string;
  metricsUrl: string;
  dir: string;
  log: () => string;
  /** SIGTERM, resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the compiled daemon on loopback ports. `wrap` runs it under a command (e.g. an `unshare`
 * that hides a library): the daemon's own argv is appended to it.
 */
export async function startDaemon(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  wrap: string[] = [],
): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'guestkit-api-it-'));
  const [command, ...prefix] = [...wrap, process.execPath];
  const child: ChildProcess = spawn(
    command,
    [
      ...prefix,
      mainJs(),
      'daemon',
      '--transport',
      'http',
      '--api-addr',
      '127.0.0.1:0',
      '--metrics-addr',
      '127.0.0.1:0',
      '--state-dir',
      join(dir, 'state'),
      '--jobs-dir',
      join(dir, 'jobs'),
      '--results-dir',
      join(dir, 'results'),
      '--work-dir',
      join(dir, 'work'),
      '--log-level',
      'info',
      '--drain-timeout',
      '5s',
      ...args,
    ],
    { cwd: dir, env: { ...process.env, GUESTKIT_API_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const addr = (msg: string) =>
    new RegExp(`"address":"([^"]+)"[^\\n]*"msg":"${msg}"`).exec(out)?.[1] ??
    new RegExp(`"msg":"${msg}"[^\\n]*"address":"([^"]+)"`).exec(out)?.[1];
  const deadline = Date.now() + 30_000;
  while (!(addr('REST API listening') && addr('metrics listening') && out.includes('daemon ready'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://${addr('REST API listening')}`,
    metricsUrl: `http://${addr('metrics listening')}`,
    dir,
    log: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs(), ...args], {
      cwd: ROOT,
      env: { ...process.env, GUESTKIT_WORKER_API_URL: '', GUESTKIT_API_TOKEN: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Prometheus text → value of one sample (0 when absent). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

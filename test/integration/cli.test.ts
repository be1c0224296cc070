// The compiled CLI as a user runs it, against a spawned daemon that requires a token: YAML job
// with --wait, failing job exit 1, every client command, output purity, exit codes, unreachable.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateEnvelope } from '../../src/protocol/validate.js';
import {
  buildDist,
  cleanupDist,
  cli,
  mainJs,
  ROOT,
  startDaemon,
  type CliOutcome,
  type Daemon,
} from './api-helpers.js';

const TOKEN = 'cli-test-token-0123456789';
let daemon: Daemon;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  buildDist();
  daemon = await startDaemon(['--max-concurrent', '2'], { GUESTKIT_API_TOKEN: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'guestkit-cli-it-'));
  env = { GUESTKIT_WORKER_API_URL: daemon.url, GUESTKIT_API_TOKEN: TOKEN };
}, 180_000);

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
  cleanupDist();
});

function json<T = Record<string, unknown>>(o: CliOutcome): T {
  try {
    return JSON.parse(o.stdout) as T;
  } catch {
    throw new Error(`stdout is not pure JSON (exit ${o.code}):\n${o.stdout}\nstderr:\n${o.stderr}`);
  }
}

const yamlJob = (id: string, data: string) => `# a job file as users write them
version: "1.0"
job_id: ${id}
created_at: "2026-01-01T00:00:00Z"
kind: VMOperation
operation: system.echo
payload:
  type: system.echo.v1
  data:
${data}
`;

describe('submit', () => {
  it('submits a YAML job file with --wait: result document on stdout, exit 0', async () => {
    const file = join(dir, 'job.yaml');
    writeFileSync(file, yamlJob('cli-yaml-job-1', '    greeting: hello\n    sleep_ms: 300'));
    const r = await cli(['submit', '--file', file, '--wait', '-o', 'json'], env);
    expect(r.code, r.stderr).toBe(0);
    const doc = json<{ job_id: string; status: string; data: { echo: unknown } }>(r);
    expect(doc).toMatchObject({
      job_id: 'cli-yaml-job-1',
      status: 'completed',
      data: { echo: { greeting: 'hello', sleep_ms: 300 } },
    });
    expect(r.stderr).toContain('submitted successfully');
  });

  it('exits 1 when the awaited job does not complete, printing its failure', async () => {
    const past = new Date(Date.now() - 3600_000).toISOString();
    const doc = {
      version: '1.0',
      job_id: `cli-deadline-${Date.now()}`,
      created_at: past,
      kind: 'VMOperation',
      operation: 'system.echo',
      payload: { type: 'system.echo.v1', data: {} },
      execution: { deadline: past },
    };
    const r = await cli(['submit', '--json', JSON.stringify(doc), '--wait', '-o', 'json'], env);
    expect(r.code).toBe(1);
    expect(json(r)).toMatchObject({ status: 'failed', error: { code: 'DEADLINE_EXCEEDED' } });
    expect(r.stderr).toMatch(/ended failed/);
  });

  it('builds quick jobs from flags (valid v1 envelopes) and submits them', async () => {
    const dry = await cli([
      'submit',
      '--operation',
      'guestkit.inspect',
      '--image',
      '/vms/a.qcow2',
      '--format',
      'qcow2',
      '--dry-run',
      '-o',
      'json',
    ]);
    expect(dry.code).toBe(0);
    const envelope = json<{ operation: string; payload: { type: string; data: unknown } }>(dry);
    expect(() => validateEnvelope(envelope)).not.toThrow();
    expect(envelope.payload).toEqual({
      type: 'guestkit.inspect.v1',
      data: { image: { path: '/vms/a.qcow2', format: 'qcow2' } },
    });
    const r = await cli(
      ['submit', '--operation', 'system.echo', '--data', '{"x": 1}', '--priority', '9', '--wait'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^job {2}\S+ {2}completed in /);
    expect(r.stdout).toMatch(/^echo:\n {2}x: 1$/m);
  });

  it('makes a relative --image absolute where it was typed, and refusals name the flags', async () => {
    const dry = await cli(['submit', '--operation', 'guestkit.inspect', '--image', 'vms/a.img', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(json<{ payload: { data: { image: { path: string } } } }>(dry).payload.data.image.path).toBe(
      join(ROOT, 'vms/a.img'),
    );
    const bad = await cli(
      ['submit', '--operation', 'guestkit.inspect', '--image', '/vms/a.img', '--format', 'bogus'],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/VALIDATION_ERROR: .*--format - must be one of qcow2, raw/);
    expect(bad.stderr).not.toContain('payload.data');
  });

  it('reads a job from stdin', async () => {
    const r = await cli(['submit', '-f', '-', '-o', 'json'], env, yamlJob('cli-stdin-job-1', '    a: 1'));
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ job_id: 'cli-stdin-job-1', status: 'pending' });
  });
});

describe('client commands', () => {
  it('status, status --watch, result --save, list, events, capabilities, health', async () => {
    const [s] = await Promise.all([
      cli(['submit', '--operation', 'system.echo', '--data', '{"sleep_ms": 800}', '-o', 'json'], env),
      cli(['submit', '--operation', 'system.echo', '--data', '{"second": true}'], env), // so lists have 2 pages
    ]);
    const id = json<{ job_id: string }>(s).job_id;
    const ev = await cli(['events', id, '-o', 'json'], env);
    expect(ev.code, ev.stderr).toBe(0);
    const events = ev.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sequence: number; job_id: string });
    expect(events.map((e) => e.sequence)).toEqual([0, 1]);
    expect(ev.stderr).toContain(`job ${id} ended completed`);
    const text = await cli(['events', id], env);
    expect(text.stdout).toMatch(
      /^\[0\] \S+ validation 0% Echo started\n\[1\] \S+ result_generation 100% Echo finished\n$/,
    );

    const st = await cli(['status', id, '-o', 'json'], env);
    expect(json(st)).toMatchObject({ job_id: id, status: 'completed', attempt: 1 });
    const table = await cli(['status', id], env);
    expect(table.stdout).toMatch(/^job_id:\s+\S+\noperation:\s+system\.echo\nstatus:\s+completed/);
    const watch = await cli(['status', id, '--watch', '-o', 'yaml'], env);
    expect(watch.code).toBe(0);
    expect(parse(watch.stdout)).toMatchObject({ status: 'completed' });

    const saved = join(dir, 'result.json');
    const res = await cli(['result', id, '--save', saved, '-o', 'json'], env);
    expect(res.code).toBe(0);
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toEqual(json(res));
    expect(res.stderr).toContain(`saved to ${saved}`);

    const list = await cli(
      ['list', '--status', 'completed', '--operation', 'system.echo', '--limit', '1', '-o', 'json'],
      env,
    );
    const page = json<{ jobs: { status: string }[]; total: number; next_cursor: string | null }>(list);
    expect(page.jobs).toHaveLength(1);
    expect(page.total).toBeGreaterThanOrEqual(2);
    const lt = await cli(['list', '-n', '1'], env);
    expect(lt.stdout.split('\n')[0]).toMatch(
      /^JOB ID\s+OPERATION\s+STATUS\s+ATTEMPT\s+SUBMITTED\s+PROGRESS\s+ERROR\s+IMAGE$/,
    );
    expect(lt.stdout.split('\n')[1]).toMatch(/\scompleted\s+1\s+\S+\s+done\s+-\s+-$/);
    expect(lt.stderr).toMatch(/^1 of \d+ job\(s\); next page: --cursor \S+/);

    const caps = await cli(['capabilities', '-o', 'yaml'], env);
    expect(parse(caps.stdout)).toMatchObject({
      max_concurrent_jobs: 2,
      operations: expect.arrayContaining(['system.echo']),
    });
    const health = await cli(['health', '-o', 'json'], env);
    expect(json(health)).toMatchObject({ status: 'healthy', checks: { store: { status: 'ok' } } });
    const ht = await cli(['health'], env);
    expect(ht.stdout, `exit ${ht.code}: ${ht.stderr}`).toMatch(/^status: healthy/);
  });

  it('cancels a running job; events and status --watch then exit 1', async () => {
    const s = await cli(
      ['submit', '--operation', 'system.echo', '--data', '{"sleep_ms": 30000}', '-o', 'json'],
      env,
    );
    const id = json<{ job_id: string }>(s).job_id;
    const follow = cli(['events', id, '-o', 'json'], env);
    const watch = cli(['status', id, '--watch', '--interval', '100'], env);
    await new Promise((r) => setTimeout(r, 1000));
    const c = await cli(['cancel', id, '-o', 'json'], env);
    expect(c.code, c.stderr).toBe(0);
    expect(json(c)).toMatchObject({ job_id: id });
    const f = await follow;
    expect(f.code).toBe(1);
    expect(f.stderr).toContain(`job ${id} ended cancelled`);
    const w = await watch;
    expect(w.code, `${w.stdout}\n${w.stderr}`).toBe(1);
    expect(w.stdout).toMatch(/status:\s+cancelled/);
    const again = await cli(['cancel', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/NOT_CANCELLABLE/);
    const res = await cli(['result', id, '-o', 'json'], env);
    expect(res.code).toBe(1);
    expect(json(res)).toMatchObject({ status: 'cancelled' });
  });
});

describe('on a terminal', () => {
  it('submit --wait in tmux: the progress bar, then the rendered result in its place', async () => {
    const socket = `guestkit-cli-it-${process.pid}`;
    const tmux = (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('tmux', ['-L', socket, ...args], (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
    const exports = Object.entries(env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    const cmd = `env ${exports} '${process.execPath}' '${mainJs()}' submit --operation system.echo --data '{"sleep_ms": 3000, "greeting": "hi"}' --wait; echo "exit $?"; sleep 600`;
    await tmux('-f', '/dev/null', 'new-session', '-d', '-x', '150', '-y', '40', cmd);
    try {
      // What the user sees, screen by screen, until the command has printed its exit status.
      const screens: string[] = [];
      for (;;) {
        const screen = await tmux('capture-pane', '-p');
        if (screens.at(-1) !== screen) screens.push(screen);
        if (/^exit \d+$/m.test(screen)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const barAt = screens.findIndex((x) => /\[[█░]{10,}\] \d+% (validation|result_generation)/.test(x));
      const last = screens.at(-1) ?? '';
      expect(barAt, screens.join('\n-----\n')).toBeGreaterThanOrEqual(0);
      expect(barAt).toBeLessThan(screens.length - 1);
      expect(last).toMatch(/^job {2}\S+ {2}completed in \d/m);
      expect(last).toMatch(/^echo:\n {2}sleep_ms: 3000\n {2}greeting: hi$/m);
      expect(last).toMatch(/^exit 0$/m);
      expect(last).not.toMatch(/[█░]/); // the bar gave its line to the result
    } finally {
      await tmux('kill-server');
    }
  });

  it('draws a progress bar for events (stderr); none for a piped submit --wait', async () => {
    const env2 = Object.entries(env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    // script(1) gives the CLI a pseudo-terminal, like a user's shell.
    const inTty = (args: string) =>
      new Promise<string>((resolve, reject) => {
        const cmd = `${env2} '${process.execPath}' '${mainJs()}' ${args}`;
        execFile('script', ['-qefc', cmd, '/dev/null'], { timeout: 60_000 }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        );
      });
    const s = await cli(
      ['submit', '--operation', 'system.echo', '--data', '{"sleep_ms": 1500}', '-o', 'json'],
      env,
    );
    const events = await inTty(`events ${json<{ job_id: string }>(s).job_id}`);
    expect(events).toMatch(/\[[█░]{10,}\] \d+% /);
    expect(events).toMatch(/ended completed/);
    const piped = await cli(
      ['submit', '--operation', 'system.echo', '--data', '{"sleep_ms": 300}', '--wait'],
      env,
    );
    expect(piped.stderr).not.toMatch(/[█░]/);
  });
});

describe('errors and exit codes', () => {
  it('needs the token: a wrong one fails with the server message, the flag overrides the env', async () => {
    const bad = await cli(['list'], { ...env, GUESTKIT_API_TOKEN: 'wrong' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/UNAUTHORIZED: Invalid API token/);
    const flag = await cli(['list', '--api-token', TOKEN, '-o', 'json'], {
      GUESTKIT_WORKER_API_URL: daemon.url,
    });
    expect(flag.code).toBe(0);
    const health = await cli(['health', '--api-url', daemon.url]);
    expect(health.code).toBe(0); // health is open
  });

  it('says clearly when the API cannot be reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const r = await cli(['status', 'some-job-id', '--api-url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `cannot reach the worker API at http://127.0.0.1:${port}: ECONNREFUSED — is the daemon running?`,
    );
    expect(r.stdout).toBe('');
  });

  it('exits 2 on usage errors and 1 on runtime errors', async () => {
    expect((await cli(['submit'], env)).code).toBe(2);
    expect((await cli(['submit', '--json', '{}', '--file', 'x.json'], env)).code).toBe(2);
    expect((await cli(['status'], env)).code).toBe(2);
    expect((await cli(['list', '--bogus'], env)).code).toBe(2);
    expect((await cli(['list', '-o', 'xml'], env)).code).toBe(2);
    expect((await cli(['list', '--limit', 'abc'], env)).code).toBe(2);
    expect((await cli(['health', '--api-url', 'localhost:8080'])).code).toBe(2);
    const missing = await cli(['status', 'no-such-job-1'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND: Job no-such-job-1 not found/);
    const invalid = await cli(['submit', '--json', '{"version": "9"}', '-o', 'json'], env);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toBe('');
    expect(invalid.stderr).toMatch(/VALIDATION_ERROR: Unsupported protocol version: 9/);
    const help = await cli(['submit', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--wait');
  });
});

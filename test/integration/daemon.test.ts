// The compiled daemon as a child process: --once, graceful drain on SIGTERM, drain timeout,
// usage errors.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobBuilder } from '../../src/protocol/builder.js';
import type { JobEnvelope, ResultDocument } from '../../src/protocol/schema.js';
import { MAIN, ensureDist, startDaemon, type DaemonProcess } from './daemon-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let daemons: DaemonProcess[] = [];

beforeAll(() => ensureDist(), 180_000);
afterEach(() => {
  for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
  daemons = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function setup(): { jobs: string; results: string; args: string[] } {
  dir = mkdtempSync(join(tmpdir(), 'gk-daemon-'));
  const jobs = join(dir, 'jobs');
  const results = join(dir, 'results');
  mkdirSync(jobs);
  return {
    jobs,
    results,
    args: [
      '--jobs-dir',
      jobs,
      '--results-dir',
      results,
      '--state-dir',
      join(dir, 'state'),
      '--work-dir',
      join(dir, 'work'), // not dir: an allowed root over the state folder is refused
    ],
  };
}

function drop(jobsDir: string, name: string, job: JobEnvelope): void {
  // write-then-rename: the daemon never sees a partial file
  writeFileSync(join(jobsDir, `.${name}`), JSON.stringify(job));
  renameSync(join(jobsDir, `.${name}`), join(jobsDir, name));
}

function echo(data: unknown, patch: (b: JobBuilder) => JobBuilder = (b) => b): JobEnvelope {
  return patch(new JobBuilder('system.echo').payload('system.echo.v1', data)).build();
}

const result = (results: string, id: string) =>
  JSON.parse(readFileSync(join(results, `${id}-result.json`), 'utf8')) as ResultDocument;

describe('guestkit-worker daemon', () => {
  it('--once processes the jobs present, then exits 0', async () => {
    const { jobs, results, args } = setup();
    const a = echo({ a: 1 });
    const b = echo({ b: 2 }, (x) => x.priority(9));
    drop(jobs, 'a.json', a);
    drop(jobs, 'b.json', b);
    writeFileSync(join(jobs, 'bad.json'), '[1, 2');
    const d = startDaemon([...args, '--once']);
    daemons.push(d);
    expect((await d.exited).code).toBe(0);
    expect(result(results, a.job_id).status).toBe('completed');
    expect(result(results, b.job_id).status).toBe('completed');
    expect(readdirSync(join(jobs, 'done')).sort()).toEqual(['a.json', 'b.json']);
    expect(readdirSync(join(jobs, 'failed')).sort()).toEqual(['bad.json', 'bad.json.reason.txt']);
    expect(d.logs.some((l) => l.msg === 'job completed' && l.job_id === a.job_id)).toBe(true);
  });

  it('SIGTERM with running jobs: they finish, then the daemon exits 0', async () => {
    const { jobs, results, args } = setup();
    const d = startDaemon([...args, '--max-concurrent', '4', '--drain-timeout', '20s']);
    daemons.push(d);
    await d.waitForLog('daemon ready');
    const js = [1, 2, 3].map((i) => echo({ i, sleep_ms: 1500 }));
    js.forEach((j, i) => drop(jobs, `drain-${i}.json`, j));
    for (let n = 0; n < 200 && d.logs.filter((l) => l.msg === 'job started').length < 3; n++) await sleep(25);
    expect(d.logs.filter((l) => l.msg === 'job started')).toHaveLength(3);
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    const exit = await d.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const j of js) expect(result(results, j.job_id).status).toBe('completed');
    expect(readdirSync(join(jobs, 'done')).sort()).toEqual(['drain-0.json', 'drain-1.json', 'drain-2.json']);
    expect(d.logs.map((l) => l.msg)).toContain('shutting down: draining');
  });

  it('after the drain timeout running jobs are stopped, and run again at the next start', async () => {
    const { jobs, results, args } = setup();
    const d = startDaemon([...args, '--drain-timeout', '300ms']);
    daemons.push(d);
    await d.waitForLog('daemon ready');
    const j = echo({ sleep_ms: 4000 });
    drop(jobs, 'long.json', j);
    await d.waitForLog('job started');
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(existsSync(join(results, `${j.job_id}-result.json`))).toBe(false);
    expect(existsSync(join(jobs, 'long.json'))).toBe(true);

    const again = startDaemon([...args, '--once']);
    daemons.push(again);
    expect((await again.exited).code).toBe(0);
    const r = result(results, j.job_id);
    expect(r.status).toBe('completed');
    expect(r.execution_summary.attempt).toBe(2);
    expect(existsSync(join(jobs, 'done', 'long.json'))).toBe(true);
  });

  it('usage errors exit 2 with a message', () => {
    const r = spawnSync(process.execPath, [MAIN, 'daemon', '--max-concurrent', 'lots', '--once'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Invalid max concurrent jobs 'lots'/);
    const r2 = spawnSync(process.execPath, [MAIN, 'daemon', '--metrics-addr', 'nope', '--once'], {
      encoding: 'utf8',
    });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/Invalid metrics address 'nope'/);
  });
});

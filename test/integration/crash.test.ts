// Crash safety with the compiled daemon: 1,000 job files, kill -9 mid-way, restart. Every job ends
// with exactly one result document and one file in done/; none is lost; none completes twice from
// the client's point of view (a result document, once written, never changes; the store records one
// completion per job).
import Database from 'better-sqlite3';
import {
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobBuilder } from '../../src/protocol/builder.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { ensureDist, startDaemon, type DaemonProcess } from './daemon-process.js';

const N = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
const daemons: DaemonProcess[] = [];

beforeAll(() => ensureDist(), 180_000);
afterAll(() => {
  for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const resultFiles = (results: string) => readdirSync(results).filter((f) => f.endsWith('-result.json'));

describe('crash safety', () => {
  it(`kill -9 during ${N} jobs: after a restart every job has one result and one done/ file`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'gk-crash-'));
    const jobs = join(dir, 'jobs');
    const results = join(dir, 'results');
    const state = join(dir, 'state');
    mkdirSync(jobs);
    const args = [
      '--jobs-dir',
      jobs,
      '--results-dir',
      results,
      '--state-dir',
      state,
      '--work-dir',
      join(dir, 'work'),
    ];
    const first = startDaemon([...args, '--max-concurrent', '16', '--log-level', 'info']);
    daemons.push(first);
    await first.waitForLog('daemon ready');

    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const j = new JobBuilder('system.echo')
        .payload('system.echo.v1', { i, sleep_ms: 50 })
        .jobId(`job-crash-${String(i).padStart(4, '0')}`)
        .build();
      ids.push(j.job_id);
      writeFileSync(join(jobs, `.j${i}.json`), JSON.stringify(j));
      renameSync(join(jobs, `.j${i}.json`), join(jobs, `j${i}.json`));
    }

    // Kill while jobs are running (per the daemon's own log) and many are still waiting.
    const inFlight = () =>
      first.logs.filter((l) => l.msg === 'job started').length -
      first.logs.filter((l) => l.msg === 'job completed').length;
    const t0 = Date.now();
    for (let n = 0; n < 3000 && (resultFiles(results).length < N * 0.3 || inFlight() < 4); n++)
      await sleep(5);
    first.child.kill('SIGKILL');
    const killedAfterMs = Date.now() - t0;
    await first.exited;
    const beforeCount = resultFiles(results).length;
    expect(beforeCount).toBeGreaterThan(0);
    expect(beforeCount).toBeLessThan(N);
    console.log(
      `killed after ${killedAfterMs} ms with ${beforeCount} results and ${inFlight()} jobs running`,
    );
    const before = new Map(resultFiles(results).map((f) => [f, readFileSync(join(results, f), 'utf8')]));

    const second = startDaemon([...args, '--max-concurrent', '16', '--log-level', 'warn']);
    daemons.push(second);
    for (let n = 0; n < 3000; n++) {
      if (readdirSync(join(jobs, 'done')).length === N && resultFiles(results).length === N) break;
      await sleep(20);
    }
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    // Exactly one result document per job, all completed, none rewritten with other content.
    const files = resultFiles(results).sort();
    expect(files).toEqual(ids.map((id) => `${id}-result.json`).sort());
    for (const f of files) {
      const text = readFileSync(join(results, f), 'utf8');
      expect((JSON.parse(text) as ResultDocument).status).toBe('completed');
      if (before.has(f)) expect(text).toBe(before.get(f));
    }
    // One file per job in done/, nothing failed, nothing left behind (temp files included).
    expect(readdirSync(join(jobs, 'done')).length).toBe(N);
    expect(readdirSync(join(jobs, 'failed'))).toEqual([]);
    expect(readdirSync(jobs).filter((f) => f !== 'done' && f !== 'failed')).toEqual([]);
    expect(readdirSync(results).filter((f) => !f.endsWith('-result.json'))).toEqual([]);

    // The store saw exactly one completion per job; some were interrupted and re-queued.
    const db = new Database(join(state, 'worker.db'), { readonly: true });
    const completions = db
      .prepare(
        "SELECT job_id, COUNT(*) AS n FROM status_history WHERE to_status = 'completed' GROUP BY job_id",
      )
      .all() as { job_id: string; n: number }[];
    const requeued = db
      .prepare(
        "SELECT COUNT(*) AS n FROM status_history WHERE to_status = 'pending' AND from_status IN ('assigned', 'running')",
      )
      .get() as { n: number };
    db.close();
    expect(completions.length).toBe(N);
    expect(completions.every((c) => c.n === 1)).toBe(true);
    expect(requeued.n).toBeGreaterThan(0);
  }, 180_000);
});

// kill -9 of the embedded daemon under load, then SIGTERM drain, with the compiled daemon over its
// REST API: 1,000 echo jobs plus a libguestfs job whose appliance is up at the kill. After the
// restart nothing is lost, each job completes once, the dead daemon's qemu is gone (the start-up
// sweep kills what libguestfs's recovery process did not) and its temp dirs are swept. The second
// daemon gets SIGTERM while the re-run appliance job is running: it drains and exits 0, leaving no
// qemu. Two appliance launches in all. TMPDIR is private, so other suites' appliances are not seen.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobBuilder } from '../../src/protocol/builder.js';
import { ensureDist, startDaemon, type DaemonProcess } from './daemon-process.js';

const N = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'gk-rel-crash-'));
const privateTmp = join(dir, 'tmp');
const daemons: DaemonProcess[] = [];

/** qemu processes whose command line names this suite's private tmpdir, with their parent pid. */
function appliances(): { pid: number; ppid: number }[] {
  const out: { pid: number; ppid: number }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmd.includes('qemu-system') || !cmd.includes(privateTmp)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.push({ pid: Number(name), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function until(what: string, pred: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(() => {
  mkdirSync(privateTmp);
  // A raw disk with a partition table and nothing in it: libguestfs must boot to say "no OS".
  const disk = join(dir, 'blank.raw');
  writeFileSync(disk, '');
  execFileSync('truncate', ['-s', '32M', disk]);
  execFileSync('sfdisk', ['-q', disk], { input: 'label: dos\n,,L\n' });
  ensureDist();
}, 240_000);

afterAll(() => {
  for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
  for (const a of appliances()) process.kill(a.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function daemon(extra: string[] = []): DaemonProcess {
  const d = startDaemon(
    [
      '--transport',
      'http',
      '--api-enabled',
      'true',
      '--api-addr',
      '127.0.0.1:0',
      '--state-dir',
      join(dir, 'state'),
      '--jobs-dir',
      join(dir, 'jobs'),
      '--results-dir',
      join(dir, 'results'),
      '--work-dir',
      join(dir, 'work'),
      '--allowed-roots',
      dir,
      // The images sit next to the state dir in this one temp dir (#14's start-up rule).
      '--allow-root-over-state',
      '--max-concurrent',
      '4',
      '--log-level',
      'info',
      ...extra,
    ],
    {
      TMPDIR: privateTmp,
      // The appliance cache stays where the other suites built it (a rebuild costs minutes).
      LIBGUESTFS_CACHEDIR: process.env.LIBGUESTFS_CACHEDIR ?? '/var/tmp',
      GUESTKIT_ORPHAN_MIN_AGE_MS: '0',
      GUESTKIT_API_TOKEN: '',
    },
  );
  daemons.push(d);
  return d;
}

async function apiUrl(d: DaemonProcess): Promise<string> {
  const line = await d.waitForLog('REST API listening', 60_000);
  return `http://${String(line.address)}`;
}

async function counts(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/api/v1/jobs?limit=1&status=completed`);
  const completed = ((await res.json()) as { total: number }).total;
  const all = ((await (await fetch(`${url}/api/v1/jobs?limit=1`)).json()) as { total: number }).total;
  return { completed, all };
}

describe('kill -9 under load, restart, SIGTERM drain', () => {
  it('loses nothing, completes each job once and leaves no qemu behind', async () => {
    const first = daemon();
    const url1 = await apiUrl(first);
    const inspect = new JobBuilder('guestkit.inspect')
      .payload('guestkit.inspect.v1', { image: { path: join(dir, 'blank.raw'), format: 'raw' } })
      .jobId('rel-crash-inspect')
      .priority(10)
      .build();
    expect(
      (
        await fetch(`${url1}/api/v1/jobs`, {
          method: 'POST',
          body: JSON.stringify(inspect),
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(201);
    const ids: string[] = [];
    for (let start = 0; start < N; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, N - start) }, async (_, k) => {
          const i = start + k;
          const job = new JobBuilder('system.echo')
            .payload('system.echo.v1', { i, sleep_ms: 20 })
            .jobId(`rel-crash-${String(i).padStart(4, '0')}`)
            .build();
          ids.push(job.job_id);
          const res = await fetch(`${url1}/api/v1/jobs`, {
            method: 'POST',
            body: JSON.stringify(job),
            headers: { 'content-type': 'application/json' },
          });
          expect(res.status).toBe(201);
        }),
      );
    }
    // Kill once the appliance is up and echo jobs are both done and still queued.
    await until('the first appliance', () => appliances().length > 0, 180_000);
    await until('some echo results', async () => (await counts(url1)).completed >= 20, 60_000);
    const before = await counts(url1);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(before.completed).toBeLessThan(N);
    const leftover = appliances();
    const staleDirs = readdirSync(join(privateTmp, `guestkit-worker-${process.getuid?.() ?? 'user'}`));
    console.log(
      `killed with ${before.completed} completed; ${leftover.length} qemu right after the kill; temp dirs: ${staleDirs.join(', ')}`,
    );

    // Restart: the sweep leaves no orphan; every appliance now belongs to the new daemon.
    const second = daemon(['--drain-timeout', '180s']);
    const url2 = await apiUrl(second);
    await second.waitForLog('daemon ready', 60_000);
    const sweep = second.logs.find(
      (l) => l.msg === 'removed appliances and temp dirs left by a worker that died',
    );
    console.log(`start-up sweep: ${JSON.stringify(sweep ?? null)}`);
    expect(sweep?.removed_dirs).toBeGreaterThanOrEqual(staleDirs.length);
    const orphans = appliances().filter((a) => a.ppid !== second.child.pid);
    expect(orphans).toEqual([]);
    const tmpNow = readdirSync(join(privateTmp, `guestkit-worker-${process.getuid?.() ?? 'user'}`));
    for (const d of staleDirs) expect(tmpNow).not.toContain(d);

    // SIGTERM while the re-run appliance job is running: drained, exit 0, no qemu left.
    await until('the re-run appliance', () => appliances().some((a) => a.ppid === second.child.pid), 180_000);
    const status = (await (await fetch(`${url2}/api/v1/jobs/rel-crash-inspect`)).json()) as {
      status: string;
    };
    expect(status.status).toBe('running');
    const t0 = Date.now();
    second.child.kill('SIGTERM');
    const exit = await second.exited;
    const drainMs = Date.now() - t0;
    console.log(`SIGTERM drain with an appliance job running took ${drainMs} ms`);
    expect(exit.code).toBe(0);
    expect(drainMs).toBeLessThan(190_000);
    expect(appliances()).toEqual([]);

    // A third start finishes whatever the drain left queued (no appliance job remains).
    const third = daemon();
    const url3 = await apiUrl(third);
    await until('all echo jobs', async () => (await counts(url3)).completed >= N, 120_000);
    const inspectResult = (await (await fetch(`${url3}/api/v1/jobs/rel-crash-inspect/result`)).json()) as {
      data: { status: string; error?: { code: string } };
    };
    expect(inspectResult.data.status).toBe('failed');
    expect(inspectResult.data.error?.code).toBe('NO_OPERATING_SYSTEM');
    third.child.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);

    const db = new Database(join(dir, 'state', 'worker.db'), { readonly: true });
    const done = db
      .prepare(
        "SELECT job_id, COUNT(*) AS n FROM status_history WHERE to_status IN ('completed', 'failed') GROUP BY job_id",
      )
      .all() as { job_id: string; n: number }[];
    const requeued = db
      .prepare(
        "SELECT COUNT(*) AS n FROM status_history WHERE to_status = 'pending' AND from_status IN ('assigned', 'running')",
      )
      .get() as { n: number };
    db.close();
    expect(done.length).toBe(N + 1);
    expect(done.filter((d) => d.n !== 1)).toEqual([]);
    expect(requeued.n).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'state', 'worker.db'))).toBe(true);
  }, 600_000);
});

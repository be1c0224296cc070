// Distributed mode end to end: the compiled daemon started from the README's "Scaling out"
// commands (1 API node + 3 workers, a second API node later) on a redis-server of this suite's own
// (appendonly, so it can be restarted). Checks go through the REST API and the metrics endpoints,
// plus Redis itself for the audit trail (how many terminal writes each job got).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, cleanupDist } from './api-helpers.js';
import {
  api,
  echoJob,
  freePort,
  metric,
  pool,
  readmeDaemonCommands,
  RedisServer,
  sleep,
  startNode,
  stopNode,
  until,
  type Node,
} from './distributed-cluster.js';

const hasRedis = await import('node:fs').then((fs) => fs.existsSync('/usr/bin/redis-server'));
const ENV = {
  GUESTKIT_REDIS_STALL_MS: '4000',
  GUESTKIT_REDIS_HEARTBEAT_MS: '1500',
  GUESTKIT_REDIS_RELEASE_MS: '500',
  GUESTKIT_REDIS_QUEUE_STATS_MS: '500',
};
const PREFIX = 'guestkit:';
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout']);

let dir: string;
let redis: RedisServer;
let inspect: Redis;
let commands: string[];
let apiNode: Node;
let apiNode2: Node | undefined;
let workers: Node[] = [];
const all: Node[] = [];

interface StatusDoc {
  job_id: string;
  status: string;
  attempt: number;
  worker_id: string | null;
}
interface ResultDoc {
  worker_id: string;
  status: string;
  execution_summary: { started_at: string; duration_seconds: number; attempt: number };
  error?: { code: string };
}

async function start(command: string): Promise<Node> {
  const n = await startNode(command, redis.url, dir, ENV);
  all.push(n);
  return n;
}

/** Terminal transitions recorded for a job (exactly one means its result was written once). */
async function terminalWrites(jobId: string): Promise<number> {
  const trail = await inspect.lrange(`${PREFIX}hist:${jobId}`, 0, -1);
  return trail.filter((l) => TERMINAL.has(l.split('|')[1])).length;
}

async function status(base: string, id: string): Promise<StatusDoc> {
  return (await api<StatusDoc>(base, 'GET', `/api/v1/jobs/${id}`)).body;
}

async function result(base: string, id: string): Promise<ResultDoc> {
  const r = await api<{ data: ResultDoc }>(base, 'GET', `/api/v1/jobs/${id}/result`);
  expect(r.status).toBe(200);
  return r.body.data;
}

async function allTerminal(base: string, ids: string[]): Promise<StatusDoc[]> {
  return until(
    `${ids.length} jobs to finish`,
    async () => {
      const docs = await pool(ids, 8, (id) => status(base, id));
      return docs.every((d) => TERMINAL.has(d.status)) && docs;
    },
    90_000,
  );
}

beforeAll(async () => {
  if (!hasRedis) return;
  buildDist();
  dir = mkdtempSync(join(tmpdir(), 'gk-distributed-'));
  redis = new RedisServer(await freePort(), dir);
  await redis.start();
  inspect = new Redis(redis.url, { maxRetriesPerRequest: null });
  inspect.on('error', () => undefined);
  commands = readmeDaemonCommands();
  apiNode = await start(commands[0]);
}, 300_000);

afterAll(async () => {
  if (!hasRedis) return;
  await Promise.all(all.map((n) => stopNode(n)));
  inspect?.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
  cleanupDist();
});

describe.skipIf(!hasRedis)('distributed mode (Redis + BullMQ, real daemons)', () => {
  it('README: one API node and three workers', () => {
    expect(commands).toHaveLength(4);
    expect(commands[0]).toMatch(/--role api/);
    for (const c of commands.slice(1)) expect(c).toMatch(/--role worker .*--max-concurrent 4/);
  });

  it('runs 500 echo jobs with mixed priorities exactly once, urgent first, within max_concurrent', async () => {
    const base = apiNode.apiUrl as string;
    const priorities = [1, 5, 10];
    const jobs = Array.from({ length: 500 }, (_, i) => ({
      id: `job-bulk-${String(i).padStart(4, '0')}`,
      priority: priorities[(i * 7) % 3],
    }));
    // Submitted before any worker exists: they wait, with the reason in their status.
    const submitted = await pool(jobs, 16, (j) =>
      api(base, 'POST', '/api/v1/jobs', echoJob(j.id, { sleep_ms: 20 }, { priority: j.priority })),
    );
    expect(submitted.every((r) => r.status === 201)).toBe(true);
    const waiting = await api<{ progress: { message: string } }>(base, 'GET', `/api/v1/jobs/${jobs[0].id}`);
    expect(waiting.body.progress.message).toMatch(/no live worker in pool 'default'/);
    // Queue depth is the shared BullMQ queue's.
    await until(
      'the API node to see 500 queued',
      async () => (await metric(apiNode.metricsUrl as string, 'guestkit_worker_queue_depth')) === 500,
    );

    workers = await Promise.all(commands.slice(1).map((c) => start(c)));
    const listed = await api<{ workers: { worker_id: string }[]; total: number }>(
      base,
      'GET',
      '/api/v1/workers',
    );
    expect(listed.body.workers.map((w) => w.worker_id).sort()).toEqual(workers.map((w) => w.workerId).sort());

    const docs = await allTerminal(
      base,
      jobs.map((j) => j.id),
    );
    expect(docs.every((d) => d.status === 'completed')).toBe(true);
    const writes = await pool(jobs, 16, (j) => terminalWrites(j.id));
    expect(writes.every((w) => w === 1)).toBe(true);
    const results = await pool(jobs, 16, (j) => result(base, j.id));

    // Higher priority finished earlier on average.
    const meanEnd = (p: number) => {
      const ends = results
        .filter((_, i) => jobs[i].priority === p)
        .map((r) => Date.parse(r.execution_summary.started_at) + r.execution_summary.duration_seconds * 1000);
      return ends.reduce((a, b) => a + b, 0) / ends.length;
    };
    expect(meanEnd(10)).toBeLessThan(meanEnd(5));
    expect(meanEnd(5)).toBeLessThan(meanEnd(1));

    // No worker ran more than its max_concurrent at once (and they did run in parallel).
    let widest = 0;
    for (const w of workers) {
      const edges = results
        .filter((r) => r.worker_id === w.workerId)
        .flatMap((r) => {
          const s = Date.parse(r.execution_summary.started_at);
          return [
            { t: s, d: 1 },
            { t: s + r.execution_summary.duration_seconds * 1000, d: -1 },
          ];
        })
        .sort((a, b) => a.t - b.t || a.d - b.d);
      let open = 0;
      let peak = 0;
      for (const e of edges) peak = Math.max(peak, (open += e.d));
      expect(peak).toBeLessThanOrEqual(4);
      expect(peak).toBeGreaterThan(0);
      widest = Math.max(widest, peak);
    }
    expect(widest).toBeGreaterThan(1);

    // Metrics are per worker: their completions add up to the 500, each counted once.
    const perWorker = await Promise.all(
      workers.map((w) =>
        metric(
          w.metricsUrl as string,
          'guestkit_worker_jobs_total',
          '{operation="system.echo",status="completed"}',
        ),
      ),
    );
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(500);
    expect(perWorker.filter((n) => n > 0)).toHaveLength(3);
    await until(
      'queue depth back to 0',
      async () => (await metric(workers[0].metricsUrl as string, 'guestkit_worker_queue_depth')) === 0,
    );
  });

  it('kill -9 of a worker holding running jobs: another worker finishes them, once', async () => {
    const base = apiNode.apiUrl as string;
    const ids = Array.from({ length: 8 }, (_, i) => `job-stall-${String(i).padStart(4, '0')}`);
    for (const id of ids)
      expect((await api(base, 'POST', '/api/v1/jobs', echoJob(id, { sleep_ms: 5000 }))).status).toBe(201);
    const running = await until('all 8 running', async () => {
      const docs = await Promise.all(ids.map((id) => status(base, id)));
      return docs.every((d) => d.status === 'running') && docs;
    });
    const counts = new Map<string, number>();
    for (const d of running) counts.set(d.worker_id as string, (counts.get(d.worker_id as string) ?? 0) + 1);
    const victimId = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const victim = workers.find((w) => w.workerId === victimId) as Node;
    const victimJobs = running.filter((d) => d.worker_id === victimId).map((d) => d.job_id);
    victim.child.kill('SIGKILL');
    await victim.exited;

    const docs = await allTerminal(base, ids);
    expect(docs.every((d) => d.status === 'completed')).toBe(true);
    for (const id of victimJobs) {
      const r = await result(base, id);
      expect(r.worker_id).not.toBe(victimId);
      expect(r.execution_summary.attempt).toBe(2);
    }
    for (const id of ids) expect(await terminalWrites(id)).toBe(1);
    // It stopped heart-beating, so it is gone from the workers list.
    await until('the killed worker to leave /api/v1/workers', async () => {
      const l = await api<{ workers: { worker_id: string }[] }>(base, 'GET', '/api/v1/workers');
      return l.body.workers.length === 2 && l.body.workers.every((w) => w.worker_id !== victimId);
    });
    workers = workers.filter((w) => w !== victim);
  });

  it('idempotent submissions to two API nodes at once: one job runs', async () => {
    apiNode2 = await start(commands[0]);
    const a = apiNode.apiUrl as string;
    const b = apiNode2.apiUrl as string;
    for (let k = 0; k < 5; k++) {
      const key = `idem-key-${k}`;
      const [ra, rb] = await Promise.all([
        api<{ job_id: string }>(
          a,
          'POST',
          '/api/v1/jobs',
          echoJob(`job-idem-a-${k}`, { sleep_ms: 300 }, { idempotency_key: key }),
        ),
        api<{ job_id: string }>(
          b,
          'POST',
          '/api/v1/jobs',
          echoJob(`job-idem-b-${k}`, { sleep_ms: 300 }, { idempotency_key: key }),
        ),
      ]);
      // One created it; the other was told it is in flight (or, if that one was slow, done).
      const codes = [ra.status, rb.status];
      expect(codes.filter((c) => c === 201)).toHaveLength(1);
      expect(codes.filter((c) => c === 409 || c === 200)).toHaveLength(1);
      const winner = ra.status === 201 ? `job-idem-a-${k}` : `job-idem-b-${k}`;
      const loser = ra.status === 201 ? `job-idem-b-${k}` : `job-idem-a-${k}`;
      expect((await api(a, 'GET', `/api/v1/jobs/${loser}`)).status).toBe(404);
      await allTerminal(a, [winner]);
      const again = await api<{ job_id: string }>(
        b,
        'POST',
        '/api/v1/jobs',
        echoJob(`job-idem-c-${k}`, {}, { idempotency_key: key }),
      );
      expect(again.status).toBe(200);
      expect(again.body.job_id).toBe(winner);
    }
  });

  it('cancel from an API node stops the work in the worker process running it', async () => {
    const id = 'job-cancel-remote-1';
    expect(
      (await api(apiNode.apiUrl as string, 'POST', '/api/v1/jobs', echoJob(id, { sleep_ms: 60_000 }))).status,
    ).toBe(201);
    const running = await until('running', async () => {
      const d = await status(apiNode.apiUrl as string, id);
      return d.status === 'running' && d;
    });
    const holder = workers.find((w) => w.workerId === running.worker_id) as Node;
    expect(await metric(holder.metricsUrl as string, 'guestkit_worker_active_jobs')).toBe(1);
    const t0 = Date.now();
    const del = await api((apiNode2 as Node).apiUrl as string, 'DELETE', `/api/v1/jobs/${id}`);
    expect(del.status).toBe(202);
    const [doc] = await allTerminal(apiNode.apiUrl as string, [id]);
    expect(doc.status).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(30_000);
    const r = await result(apiNode.apiUrl as string, id);
    expect(r).toMatchObject({
      worker_id: holder.workerId,
      status: 'cancelled',
      error: { code: 'CANCELLED' },
    });
    expect(r.execution_summary.duration_seconds).toBeLessThan(50);
    // The holder's own metrics saw the job end cancelled and its slot freed.
    await until(
      'the holder to free the slot',
      async () => (await metric(holder.metricsUrl as string, 'guestkit_worker_active_jobs')) === 0,
    );
    expect(
      await metric(
        holder.metricsUrl as string,
        'guestkit_worker_jobs_total',
        '{operation="system.echo",status="cancelled"}',
      ),
    ).toBe(1);
  });

  it('Redis restart during a run: nodes reconnect, nothing is lost or written twice', async () => {
    const base = apiNode.apiUrl as string;
    const ids = Array.from({ length: 24 }, (_, i) => `job-restart-${String(i).padStart(4, '0')}`);
    await pool(ids, 8, (id) => api(base, 'POST', '/api/v1/jobs', echoJob(id, { sleep_ms: 1500 })));
    await until('some jobs running', async () => {
      const docs = await Promise.all(ids.map((id) => status(base, id)));
      return docs.some((d) => d.status === 'running');
    });
    await redis.stop();
    await sleep(2000);
    await redis.start();

    const docs = await allTerminal(base, ids);
    expect(docs.map((d) => d.status)).toEqual(ids.map(() => 'completed'));
    for (const id of ids) expect(await terminalWrites(id)).toBe(1);
    // Both workers are back, heart-beating.
    await until('2 live workers', async () => {
      const l = await api<{ total: number }>(base, 'GET', '/api/v1/workers');
      return l.body.total === 2;
    });
    // And the cluster still takes new work.
    expect((await api(base, 'POST', '/api/v1/jobs', echoJob('job-after-restart', {}))).status).toBe(201);
    const [after] = await allTerminal(base, ['job-after-restart']);
    expect(after.status).toBe('completed');
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  });
});

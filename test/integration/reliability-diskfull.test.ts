// Disk full under the job store (a 3 MiB tmpfs as the state dir): submissions are refused with
// 503 WORKER_UNAVAILABLE saying to free space (was: 500 "see the worker log"), nothing accepted is
// lost, the SQLite file passes integrity_check, and once space returns new jobs run and a restart
// finishes whatever was interrupted. Needs root (mount); skipped otherwise.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { echoJob } from '../../src/protocol/builder.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'gk-rel-full-'));
const mnt = join(dir, 'state');
let mounted = false;

function config() {
  return {
    stateDir: mnt,
    workDir: dir,
    resultsDir: join(dir, 'results'),
    maxConcurrent: 4,
    drainTimeoutMs: 2000,
  };
}

beforeAll(() => {
  if (!isRoot) return;
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
  mounted = true;
});
afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mnt]);
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('disk full under the job store', () => {
  let worker: LocalWorker;
  let app: FastifyInstance;
  const accepted: string[] = [];

  it('refuses submissions with 503 and a message saying what to fix, never 500', async () => {
    worker = createWorker(config());
    await worker.start();
    app = await buildApi(worker, { dashboard: false, docs: false });
    const big = 'x'.repeat(50_000);
    const statuses = new Map<number, number>();
    let refusal: { error: string; message: string } | undefined;
    for (let i = 0; i < 120; i++) {
      const job = echoJob({ big, i });
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(job),
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 201) accepted.push(job.job_id);
      else refusal ??= JSON.parse(res.body) as { error: string; message: string };
    }
    console.log(`disk full: ${JSON.stringify(Object.fromEntries(statuses))} (status → count)`);
    expect([...statuses.keys()].sort()).toEqual([201, 503]);
    expect(refusal?.error).toBe('WORKER_UNAVAILABLE');
    expect(refusal?.message).toMatch(/out of disk space.*free space/);
    // Reads still work while full.
    const list = await app.inject({ method: 'GET', url: '/api/v1/jobs?limit=5' });
    expect(list.statusCode).toBe(200);
  });

  it('keeps the store intact; after space returns new jobs run and a restart finishes the rest', async () => {
    await app.close();
    await worker.stop({ drainTimeoutMs: 2000 }).catch(() => undefined);
    const db = new Database(join(mnt, 'worker.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    // Space returns (the tmpfs grows, as an operator would extend or clean the volume).
    execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
    worker = createWorker(config());
    await worker.start();
    const fresh = echoJob({ after: 'space returned' });
    await worker.submit(fresh);
    expect((await worker.waitFor(fresh.job_id, { signal: AbortSignal.timeout(30_000) })).status).toBe(
      'completed',
    );
    for (const id of accepted) {
      const doc = await worker.waitFor(id, { signal: AbortSignal.timeout(30_000) });
      expect(doc.status, id).toBe('completed');
      expect((await worker.result(id))?.status).toBe('completed');
    }
    await worker.stop();
  });
});

// Issue #14, store health: a damaged database page was not noticed at start (health said healthy,
// submits got 201, jobs stayed pending forever, the list answered 500); after a disk-full cleared,
// /health stayed 503 "WAL checkpoints failing" for good; an invalid list cursor silently gave page
// one. Real SQLite files, the real checkpointer thread, the real HTTP server, the real CLI daemon.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { resolveConfig } from '../../src/config.js';
import { echoJob } from '../../src/protocol/builder.js';
import { WalCheckpointer } from '../../src/store/checkpointer.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';
import { until } from '../unit/worker-helpers.js';

const ROOT = join(import.meta.dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gk-store-health-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function workerAt(stateDir: string): LocalWorker {
  return createWorker(resolveConfig({ stateDir, workDir: dir, jobsDir: join(dir, 'jobs') }, {}));
}

/** Overwrites every page after the first (the schema page) with garbage. */
function damage(db: string): void {
  const size = statSync(db).size;
  const fd = openSync(db, 'r+');
  const garbage = Buffer.alloc(size - 4096, 0xa5);
  writeSync(fd, garbage, 0, garbage.length, 4096);
  closeSync(fd);
}

describe('store health', () => {
  it('a damaged store stops the worker at start, naming the file and what to do (medium)', async () => {
    const stateDir = join(dir, 'damaged');
    const w = workerAt(stateDir);
    await w.start();
    for (let i = 0; i < 50; i++) await w.submit(echoJob({ i, pad: 'x'.repeat(2000) }));
    await w.stop({ drainTimeoutMs: 0 });
    const file = join(stateDir, 'worker.db');
    expect(statSync(file).size).toBeGreaterThan(3 * 4096);
    damage(file);

    const again = workerAt(stateDir);
    const err = (await again.start().then(
      () => new Error('started'),
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(/The job store .* is damaged.*backup.*\.recover/s);
    expect(err.message).toContain(file);
    await again.stop({ drainTimeoutMs: 0 }).catch(() => undefined);

    // The daemon exits non-zero with the same words in its log.
    const out = await new Promise<{ code: number | null; output: string }>((done) => {
      execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'src/cli/main.ts'),
          'daemon',
          '--once',
          '--state-dir',
          stateDir,
          '--jobs-dir',
          join(dir, 'jobs'),
          '--work-dir',
          join(dir, 'work'),
          '--results-dir',
          join(dir, 'results'),
          '--api-enabled',
          'false',
          '--metrics-enabled',
          'false',
        ],
        { cwd: ROOT, timeout: 60_000, env: { ...process.env, GUESTKIT_API_TOKEN: '' } },
        (err, stdout, stderr) =>
          done({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: stdout + stderr }),
      );
    });
    expect(out.code).toBe(1);
    expect(out.output).toContain(`The job store ${file} is damaged`);
  });

  it('the checkpointer clears its error after a checkpoint succeeds (low)', async () => {
    const path = join(dir, 'cp.db');
    // First a folder where the database should be: every checkpoint fails to open it.
    mkdirSync(path);
    const cp = new WalCheckpointer(path, 10);
    try {
      // The thread checkpoints when the WAL file changes: give it one to notice.
      const touch = (n: number) => {
        const fd = openSync(`${path}-wal`, 'a');
        writeSync(fd, Buffer.alloc(n));
        closeSync(fd);
      };
      touch(1);
      await until(() => cp.error !== undefined, 20_000);
      expect(cp.error).toMatch(/directory|unable to open|SQLITE_CANTOPEN/i);
      // The disk "has space again": a real database at the path, written in WAL mode.
      rmSync(path, { recursive: true });
      rmSync(`${path}-wal`, { force: true });
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      await until(() => cp.error === undefined, 20_000);
      expect(cp.error).toBeUndefined();
      db.close();
    } finally {
      await cp.stop();
    }
  });

  describe('list cursor', () => {
    let worker: LocalWorker;
    let app: FastifyInstance;
    let url: string;
    beforeAll(async () => {
      worker = workerAt(join(dir, 'cursor'));
      await worker.start();
      for (let i = 0; i < 3; i++) await worker.submit(echoJob({ i }));
      app = await buildApi(worker, { health: { libguestfsProbe: async () => ({ status: 'ok' }) } });
      url = await app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(async () => {
      await app?.close();
      await worker?.stop({ drainTimeoutMs: 0 });
    });

    it('a cursor that does not decode is a 400 saying what to send, not page one (low)', async () => {
      const page = (await (await fetch(`${url}/api/v1/jobs?limit=2`)).json()) as { next_cursor: string };
      expect(page.next_cursor).toEqual(expect.any(String));
      expect((await fetch(`${url}/api/v1/jobs?limit=2&cursor=${page.next_cursor}`)).status).toBe(200);
      for (const bad of ['garbage', 'eDEyMw', '%2F%2F']) {
        const res = await fetch(`${url}/api/v1/jobs?limit=2&cursor=${bad}`);
        const body = (await res.json()) as { error: string; message: string };
        expect(res.status, bad).toBe(400);
        expect(body.error).toBe('VALIDATION_ERROR');
        // The schema's pattern refuses some; the store refuses what passes it but does not decode.
        expect(body.message).toMatch(/cursor/);
      }
      const res = await fetch(`${url}/api/v1/jobs?limit=2&cursor=eDEyMw`);
      expect(((await res.json()) as { message: string }).message).toMatch(/Invalid cursor.*next_cursor/);
    });
  });
});

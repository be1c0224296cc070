// Retention keeps the embedded store bounded: a sweep purges every expired terminal job, however
// many (it used to stop after 1,000 per sweep, so at a steady rate above 1,000 jobs per sweep
// interval the SQLite file grew without bound), and the worker's timer sweeps by itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { echoJob } from '../../src/protocol/builder.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { createWorker } from '../../src/worker/worker.js';
import { newJob } from '../unit/new-job.js';

const dir = mkdtempSync(join(tmpdir(), 'gk-rel-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('retention', () => {
  it('one sweep purges all 3,500 expired jobs, not the first 1,000 (regression)', async () => {
    const s = new SqliteStore({ path: join(dir, 'purge.db') });
    await s.open();
    const ids = Array.from({ length: 3500 }, (_, i) => `job-ret-${String(i).padStart(5, '0')}`);
    await Promise.all(ids.map((id) => s.create({ ...newJob(id), submitted_at: 1000 })));
    await Promise.all(ids.map((id) => s.transition(id, ['pending'], 'completed', { completed_at: 2000 })));
    await s.create(newJob('job-ret-recent'));
    expect(await s.purgeTerminal(Date.now() - 60_000)).toBe(3500);
    expect(await s.counts()).toMatchObject({ completed: 0, pending: 1 });
    await s.close();
  });

  it('the worker sweeps on its own timer (--retention)', async () => {
    const worker = createWorker({ stateDir: join(dir, 'w'), workDir: dir, retentionSeconds: 1 });
    await worker.start();
    const jobs = Array.from({ length: 20 }, () => echoJob({}));
    for (const j of jobs) await worker.submit(j);
    for (const j of jobs) await worker.waitFor(j.job_id);
    const end = Date.now() + 20_000;
    while ((await worker.counts()).completed > 0 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 200));
    expect((await worker.counts()).completed).toBe(0);
    await worker.stop();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore, decodeCursor, encodeCursor } from '../../src/store/sqlite.js';
import type { JobRecord } from '../../src/store/types.js';
import { newJob } from './new-job.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'gk-store-'));
  dirs.push(d);
  return join(d, 'state', 'worker.db');
}

describe('SqliteStore', () => {
  it('creates jobs and decides duplicates and idempotency keys atomically', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    await s.open();
    expect((await s.create(newJob('job-a-000001'))).kind).toBe('created');
    expect((await s.create(newJob('job-a-000001'))).kind).toBe('same_document');
    expect((await s.create(newJob('job-a-000001', {}, 'other'))).kind).toBe('duplicate_job_id');

    expect((await s.create(newJob('job-k-000001', { idempotency_key: 'k' }))).kind).toBe('created');
    const inflight = await s.create(newJob('job-k-000002', { idempotency_key: 'k' }));
    expect(inflight).toMatchObject({ kind: 'idempotent_in_flight', job: { job_id: 'job-k-000001' } });
    await s.transition('job-k-000001', ['pending'], 'failed', { completed_at: Date.now() });
    expect((await s.create(newJob('job-k-000003', { idempotency_key: 'k' }))).kind).toBe('created');
    await s.transition('job-k-000003', ['pending'], 'completed', { completed_at: Date.now() });
    const done = await s.create(newJob('job-k-000004', { idempotency_key: 'k' }));
    expect(done).toMatchObject({ kind: 'idempotent_completed', job: { job_id: 'job-k-000003' } });
    await s.close();
  });

  it('transitions are compare-and-set and recorded in the history', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    await s.open();
    await s.create(newJob('job-t-000001'));
    expect(await s.transition('job-t-000001', ['running'], 'completed')).toBeUndefined();
    const a = await s.transition('job-t-000001', ['pending'], 'assigned', { worker_id: 'w1' });
    expect(a).toMatchObject({ status: 'assigned', worker_id: 'w1' });
    const r = await s.transition('job-t-000001', ['assigned'], 'running', {
      started_at: 5,
      progress: { phase: 'x', percent: 1, message: 'm' },
    });
    expect(r).toMatchObject({ status: 'running', started_at: 5, progress: { phase: 'x' } });
    const doc = {
      job_id: 'job-t-000001',
      status: 'completed' as const,
      completed_at: '2025-01-01T00:00:00Z',
      worker_id: 'w1',
      execution_summary: { started_at: '2025-01-01T00:00:00Z', duration_seconds: 1, attempt: 1 },
      outputs: { artifacts: [] },
    };
    await s.transition('job-t-000001', ['running'], 'completed', { completed_at: 6 }, doc);
    expect(await s.result('job-t-000001')).toEqual(doc);
    expect((await s.history('job-t-000001')).map((h) => `${h.from}->${h.to}`)).toEqual([
      'null->pending',
      'pending->assigned',
      'assigned->running',
      'running->completed',
    ]);
    expect(await s.transition('job-t-000001', ['pending', 'running'], 'failed')).toBeUndefined();
    await s.close();
  });

  it('keeps only the newest events per job and continues sequences', async () => {
    const s = new SqliteStore({ path: ':memory:', eventsPerJob: 5 });
    await s.open();
    await s.create(newJob('job-e-000001'));
    for (let i = 0; i < 12; i++) {
      await s.appendEvent({
        job_id: 'job-e-000001',
        timestamp: new Date().toISOString(),
        sequence: i,
        phase: 'p',
        progress_percent: i,
        message: `m${i}`,
      });
    }
    const ev = await s.events('job-e-000001');
    expect(ev.map((e) => e.sequence)).toEqual([7, 8, 9, 10, 11]);
    expect((await s.events('job-e-000001', 9)).map((e) => e.sequence)).toEqual([10, 11]);
    expect(await s.lastSequence('job-e-000001')).toBe(11);
    expect(await s.lastSequence('job-none-0001')).toBe(-1);
    expect((await s.get('job-e-000001'))?.progress).toEqual({ phase: 'p', percent: 11, message: 'm11' });
    await s.close();
  });

  it('survives reopening: jobs, keys, results; interrupted jobs are re-queued with attempt + 1', async () => {
    const path = tempDb();
    const s = new SqliteStore({ path });
    await s.open();
    await s.create(newJob('job-r-000001', { idempotency_key: 'kk' }));
    await s.create(newJob('job-r-000002'));
    await s.create(newJob('job-r-000003'));
    await s.transition('job-r-000001', ['pending'], 'assigned');
    await s.transition('job-r-000001', ['assigned'], 'running');
    await s.transition('job-r-000002', ['pending'], 'assigned');
    await s.close(); // like a crash: nothing else happens

    const s2 = new SqliteStore({ path });
    await s2.open();
    const back = await s2.requeueInterrupted();
    expect(back.map((j) => [j.job_id, j.status, j.attempt])).toEqual([
      ['job-r-000001', 'pending', 2], // it ran: that attempt counts
      ['job-r-000002', 'pending', 1], // only assigned: it never ran
    ]);
    expect((await s2.pending(10)).map((j) => j.job_id)).toEqual([
      'job-r-000001',
      'job-r-000002',
      'job-r-000003',
    ]);
    expect((await s2.create(newJob('job-r-000009', { idempotency_key: 'kk' }))).kind).toBe(
      'idempotent_in_flight',
    );
    await s2.close();
  });

  it('orders pending by priority then submission; lists newest first with totals', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    await s.open();
    await s.create(newJob('job-p-000001', { priority: 1 }));
    await s.create(newJob('job-p-000002', { priority: 9 }));
    await s.create(newJob('job-p-000003', { priority: 9 }));
    await s.create(newJob('job-p-000004', { priority: 5 }));
    expect((await s.pending(10)).map((j) => j.job_id)).toEqual([
      'job-p-000002',
      'job-p-000003',
      'job-p-000004',
      'job-p-000001',
    ]);
    // keyset paging through the queue, as the worker does at start
    const first = await s.pending(2);
    const last = first[first.length - 1];
    const rest = await s.pending(10, { priority: last.execution.priority, seq: last.seq });
    expect(rest.map((j) => j.job_id)).toEqual(['job-p-000004', 'job-p-000001']);
    const page = await s.list({ limit: 2 });
    expect(page.total).toBe(4);
    expect(page.jobs.map((j) => j.job_id)).toEqual(['job-p-000004', 'job-p-000003']);
    expect(decodeCursor(page.next_cursor ?? '')).toBe(page.jobs[1].seq);
    expect(decodeCursor('garbage')).toBeUndefined();
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    expect(await s.counts()).toMatchObject({ pending: 4, completed: 0 });
    await s.close();
  });

  it('purges terminal jobs older than the retention with their events and results', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    await s.open();
    await s.create(newJob('job-old-00001', { idempotency_key: 'old' }));
    await s.create(newJob('job-new-00001'));
    await s.transition('job-old-00001', ['pending'], 'completed', { completed_at: 1000 });
    await s.transition('job-new-00001', ['pending'], 'completed', { completed_at: Date.now() });
    expect(await s.purgeTerminal(Date.now() - 60_000)).toBe(1);
    expect(await s.get('job-old-00001')).toBeUndefined();
    expect(await s.get('job-new-00001')).toBeDefined();
    // the key is free again
    expect((await s.create(newJob('job-old-00002', { idempotency_key: 'old' }))).kind).toBe('created');
    await s.close();
  });

  it('defers non-durable writes into the next one, keeping the compare-and-set, order and history exact', async () => {
    const path = tempDb();
    const s = new SqliteStore({ path, eventsPerJob: 3 });
    await s.open();
    const created = await s.create(newJob('job-d-000001'));
    if (created.kind !== 'created') throw new Error(created.kind);
    const lazy = (current: JobRecord) => ({ durable: false, current });
    const a = await s.transition(
      'job-d-000001',
      ['pending'],
      'assigned',
      { worker_id: 'w1' },
      undefined,
      lazy(created.job),
    );
    expect(a).toMatchObject({ status: 'assigned', worker_id: 'w1', attempt: 1, progress: null });
    // The deferred status decides the next compare-and-set, reads included.
    expect(
      await s.transition('job-d-000001', ['pending'], 'running', {}, undefined, lazy(a!)),
    ).toBeUndefined();
    const r = await s.transition(
      'job-d-000001',
      ['assigned'],
      'running',
      { started_at: 7 },
      undefined,
      lazy(a!),
    );
    expect(r).toMatchObject({ status: 'running', started_at: 7 });
    for (let i = 0; i < 5; i++) {
      const event = {
        job_id: 'job-d-000001',
        timestamp: 't',
        sequence: i,
        phase: 'p',
        progress_percent: i * 10,
        message: `m${i}`,
      };
      await s.appendEvent(event, { durable: false });
    }
    expect(await s.get('job-d-000001')).toMatchObject({
      status: 'running',
      started_at: 7,
      worker_id: 'w1',
      progress: { percent: 40 },
    });
    expect((await s.events('job-d-000001')).map((e) => e.sequence)).toEqual([2, 3, 4]);
    // Deferred again after the read wrote them, then merged into the durable terminal write.
    await s.appendEvent(
      {
        job_id: 'job-d-000001',
        timestamp: 't',
        sequence: 5,
        phase: 'q',
        progress_percent: 100,
        message: 'done',
      },
      { durable: false },
    );
    const done = await s.transition(
      'job-d-000001',
      ['running'],
      'completed',
      { completed_at: 9 },
      undefined,
      { current: r! },
    );
    expect(done).toMatchObject({
      status: 'completed',
      completed_at: 9,
      progress: { phase: 'q', percent: 100 },
    });
    await s.close();

    const again = new SqliteStore({ path, eventsPerJob: 3 });
    await again.open();
    expect(await again.get('job-d-000001')).toMatchObject({
      status: 'completed',
      started_at: 7,
      completed_at: 9,
      worker_id: 'w1',
      progress: { phase: 'q' },
    });
    expect((await again.history('job-d-000001')).map((h) => `${h.from}->${h.to}@${h.attempt}`)).toEqual([
      'null->pending@1',
      'pending->assigned@1',
      'assigned->running@1',
      'running->completed@1',
    ]);
    expect((await again.events('job-d-000001')).map((e) => e.sequence)).toEqual([3, 4, 5]);
    expect(await again.counts()).toMatchObject({ completed: 1, running: 0 });
    await again.close();
  });

  it('commits deferred writes with the batch: a job left running is re-queued after a reopen', async () => {
    const path = tempDb();
    const s = new SqliteStore({ path });
    await s.open();
    const created = await s.create(newJob('job-d-000002'));
    if (created.kind !== 'created') throw new Error(created.kind);
    const a = await s.transition('job-d-000002', ['pending'], 'assigned', {}, undefined, {
      durable: false,
      current: created.job,
    });
    await s.transition('job-d-000002', ['assigned'], 'running', { started_at: 1 }, undefined, {
      durable: false,
      current: a!,
    });
    await new Promise((r) => setImmediate(r)); // the group commit
    await s.close();
    const again = new SqliteStore({ path });
    await again.open();
    expect((await again.requeueInterrupted()).map((j) => [j.job_id, j.attempt])).toEqual([
      ['job-d-000002', 2],
    ]);
    await again.close();
  });
});

// RedisJobStore against the suite's throw-away redis-server (global setup): atomic create and
// idempotency across connections, compare-and-set with the run fence, bounded events, list
// paging, counts, retention. Each test uses its own key prefix.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { RedisJobStore } from '../../src/distributed/store.js';
import { RunStore } from '../../src/distributed/run-store.js';
import { bullJobId, bullPriority, queueName, tuningFromEnv } from '../../src/distributed/tuning.js';
import { newJob } from './new-job.js';

const url = process.env.GUESTKIT_TEST_REDIS_URL;
const stores: RedisJobStore[] = [];
let n = 0;

function store(prefix = `t-store-${process.pid}-${Date.now()}-${n++}:`, eventsPerJob = 1000) {
  const s = new RedisJobStore({ redis: url as string, prefix, eventsPerJob });
  stores.push(s);
  return s;
}

afterAll(async () => {
  for (const s of stores) await s.close();
});

function result(id: string, workerId: string, attempt: number): ResultDocument {
  return {
    job_id: id,
    status: 'completed',
    completed_at: new Date().toISOString(),
    worker_id: workerId,
    execution_summary: { started_at: new Date().toISOString(), duration_seconds: 0.1, attempt },
    outputs: { artifacts: [] },
    data: { list: [] },
  };
}

describe.skipIf(!url)('RedisJobStore', () => {
  it('decides duplicate ids and idempotency keys atomically', async () => {
    const s = store();
    await s.open();
    const created = await s.create(newJob('job-a-000001'));
    expect(created.kind).toBe('created');
    // The envelope round-trips unchanged (empty arrays stay arrays: Lua never decodes it).
    expect(created.job.envelope.payload.data).toEqual({ doc: '{}', empty: [] });
    expect((await s.get('job-a-000001'))?.envelope.payload.data).toEqual({ doc: '{}', empty: [] });
    expect(await s.get('job-a-000001')).toEqual(created.job);
    expect(created.job).toMatchObject({ status: 'pending', attempt: 1, worker_id: null, started_at: null });
    expect((await s.create(newJob('job-a-000001'))).kind).toBe('same_document');
    expect((await s.create(newJob('job-a-000001', {}, 'other'))).kind).toBe('duplicate_job_id');

    expect((await s.create(newJob('job-k-000001', { idempotency_key: 'k' }))).kind).toBe('created');
    const inFlight = await s.create(newJob('job-k-000002', { idempotency_key: 'k' }));
    expect(inFlight).toMatchObject({ kind: 'idempotent_in_flight', job: { job_id: 'job-k-000001' } });
    await s.transition('job-k-000001', ['pending'], 'failed', { completed_at: Date.now() });
    // A key whose job failed may run again.
    expect((await s.create(newJob('job-k-000003', { idempotency_key: 'k' }))).kind).toBe('created');
    await s.transition('job-k-000003', ['pending'], 'completed', {}, result('job-k-000003', 'w', 1));
    const again = await s.create(newJob('job-k-000004', { idempotency_key: 'k' }));
    expect(again).toMatchObject({ kind: 'idempotent_completed', job: { job_id: 'job-k-000003' } });
    expect(await s.get('job-k-000004')).toBeUndefined();
  });

  it('lets exactly one of many concurrent submissions of one key through, across connections', async () => {
    const prefix = `t-race-${process.pid}-${Date.now()}:`;
    const a = store(prefix);
    const b = store(prefix);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).create(newJob(`job-race-${String(i).padStart(4, '0')}`, { idempotency_key: 'same' })),
      ),
    );
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'idempotent_in_flight')).toHaveLength(19);
    expect((await a.counts()).pending).toBe(1);
  });

  it('moves status only from the expected one and only for the fenced worker/attempt', async () => {
    const s = store();
    await s.create(newJob('job-t-000001'));
    expect(await s.transition('job-t-000001', ['running'], 'completed')).toBeUndefined();
    expect(await s.transition('job-nope-0001', ['pending'], 'assigned')).toBeUndefined();
    const assigned = await s.transition('job-t-000001', ['pending'], 'assigned', { worker_id: 'w1' });
    expect(assigned).toMatchObject({ status: 'assigned', worker_id: 'w1' });
    const guard = (workerId: string, attempt: number) => ({ workerId, attempt });
    expect(await s.transitionIf('job-t-000001', ['assigned'], 'running', {}, undefined, guard('w2', 1))).toBe(
      undefined,
    );
    expect(await s.transitionIf('job-t-000001', ['assigned'], 'running', {}, undefined, guard('w1', 2))).toBe(
      undefined,
    );
    const running = await s.transitionIf(
      'job-t-000001',
      ['assigned'],
      'running',
      { started_at: 1000, error: null },
      undefined,
      guard('w1', 1),
    );
    expect(running).toMatchObject({ status: 'running', started_at: 1000, error: null });
    const done = await s.transition(
      'job-t-000001',
      ['running'],
      'completed',
      { completed_at: 2000 },
      result('job-t-000001', 'w1', 1),
    );
    expect(done?.status).toBe('completed');
    // First terminal write wins.
    expect(await s.transition('job-t-000001', ['running'], 'failed')).toBeUndefined();
    expect(await s.result('job-t-000001')).toMatchObject({ worker_id: 'w1', data: { list: [] } });
    expect((await s.history('job-t-000001')).map((h) => `${h.from ?? ''}>${h.to}`)).toEqual([
      '>pending',
      'pending>assigned',
      'assigned>running',
      'running>completed',
    ]);
    const counts = await s.counts();
    expect(counts).toMatchObject({ pending: 0, assigned: 0, running: 0, completed: 1, failed: 0 });
  });

  it('records each history entry with the attempt the job is at after the move', async () => {
    const s = store();
    await s.create(newJob('job-h-000001'));
    const id = 'job-h-000001';
    await s.transition(id, ['pending'], 'assigned', { worker_id: 'w1' });
    await s.transition(id, ['assigned'], 'running', { started_at: 1 });
    // A retry: back to pending as attempt 2, then started again in one move (via assigned).
    await s.transition(id, ['running'], 'pending', { attempt: 2, worker_id: null, not_before: 5 });
    await s.move(id, {
      from: ['pending'],
      via: [{ status: 'assigned', at: 7 }],
      to: 'running',
      patch: { worker_id: 'w2', started_at: 8 },
    });
    expect((await s.history(id)).map((h) => `${h.from ?? ''}>${h.to}@${h.attempt}`)).toEqual([
      '>pending@1',
      'pending>assigned@1',
      'assigned>running@1',
      'running>pending@2',
      'pending>assigned@2',
      'assigned>running@2',
    ]);
    expect((await s.history(id))[4].at).toBe(7);
    expect(await s.get(id)).toMatchObject({ status: 'running', attempt: 2, worker_id: 'w2', started_at: 8 });
    expect(await s.counts()).toMatchObject({ pending: 0, assigned: 0, running: 1 });
  });

  it('fences a run: after another worker took the job over, the old run cannot write', async () => {
    const s = store();
    await s.create(newJob('job-f-000001'));
    const oldRun = new RunStore(s, 'w-old', 1);
    await oldRun.transition('job-f-000001', ['pending'], 'assigned', { worker_id: 'w-old' });
    await oldRun.transition('job-f-000001', ['assigned'], 'running', { started_at: Date.now() });
    // The lock expired: a new worker takes it over as attempt 2 and runs it.
    const newRun = new RunStore(s, 'w-new', 1);
    const back = await newRun.transition('job-f-000001', ['running'], 'pending', {
      attempt: 2,
      worker_id: null,
    });
    expect(back).toMatchObject({ status: 'pending', attempt: 2 });
    await newRun.transition('job-f-000001', ['pending'], 'assigned', { worker_id: 'w-new' });
    await newRun.transition('job-f-000001', ['assigned'], 'running', {});
    expect(
      await oldRun.transition(
        'job-f-000001',
        ['running'],
        'completed',
        {},
        result('job-f-000001', 'w-old', 1),
      ),
    ).toBeUndefined();
    const done = await newRun.transition(
      'job-f-000001',
      ['running'],
      'completed',
      {},
      result('job-f-000001', 'w-new', 2),
    );
    expect(done).toMatchObject({ status: 'completed', attempt: 2, worker_id: 'w-new' });
    expect((await s.result('job-f-000001'))?.worker_id).toBe('w-new');
    expect((await s.history('job-f-000001')).filter((h) => h.to === 'completed')).toHaveLength(1);
  });

  it('keeps the newest events per job, continues numbering, ignores events of finished jobs', async () => {
    const s = store(undefined, 3);
    await s.create(newJob('job-e-000001'));
    expect(await s.lastSequence('job-e-000001')).toBe(-1);
    for (let i = 0; i < 5; i++) {
      await s.appendEvent({
        job_id: 'job-e-000001',
        timestamp: new Date().toISOString(),
        sequence: i,
        phase: 'validation',
        progress_percent: i * 10,
        message: `step ${i}`,
      });
    }
    expect((await s.events('job-e-000001')).map((e) => e.sequence)).toEqual([2, 3, 4]);
    expect((await s.events('job-e-000001', 3)).map((e) => e.sequence)).toEqual([4]);
    expect(await s.lastSequence('job-e-000001')).toBe(4);
    expect((await s.get('job-e-000001'))?.progress).toEqual({
      phase: 'validation',
      percent: 40,
      message: 'step 4',
    });
    await s.transition('job-e-000001', ['pending'], 'cancelled');
    await s.appendEvent({
      job_id: 'job-e-000001',
      timestamp: new Date().toISOString(),
      sequence: 9,
      phase: 'cleanup',
      progress_percent: 100,
      message: 'late',
    });
    expect(await s.lastSequence('job-e-000001')).toBe(4);
  });

  it('lists newest first with cursors, filters and true totals; purges old terminal jobs', async () => {
    const s = store();
    for (let i = 0; i < 7; i++) {
      await s.create(
        newJob(`job-l-${String(i).padStart(6, '0')}`, {}, '{}', i % 2 ? 'test.echo' : 'system.echo'),
      );
    }
    for (const i of [0, 1, 2]) {
      await s.transition(`job-l-${String(i).padStart(6, '0')}`, ['pending'], 'completed', {
        completed_at: 1,
      });
    }
    const p1 = await s.list({ limit: 3 });
    expect(p1.total).toBe(7);
    expect(p1.jobs.map((j) => j.job_id)).toEqual(['job-l-000006', 'job-l-000005', 'job-l-000004']);
    const p2 = await s.list({ limit: 3, cursor: p1.next_cursor ?? undefined });
    expect(p2.jobs.map((j) => j.job_id)).toEqual(['job-l-000003', 'job-l-000002', 'job-l-000001']);
    const p3 = await s.list({ limit: 3, cursor: p2.next_cursor ?? undefined });
    expect(p3).toMatchObject({ next_cursor: null, jobs: [{ job_id: 'job-l-000000' }] });
    expect((await s.list({ status: 'completed' })).total).toBe(3);
    const both = await s.list({ status: 'pending', operation: 'test.echo' });
    expect(both.total).toBe(2);
    expect(both.jobs.map((j) => j.job_id)).toEqual(['job-l-000005', 'job-l-000003']);
    expect((await s.pending(10)).map((j) => j.job_id)).toEqual([
      'job-l-000003',
      'job-l-000004',
      'job-l-000005',
      'job-l-000006',
    ]);

    expect(await s.purgeTerminal(Date.now() - 60_000)).toBe(0);
    expect(await s.purgeTerminal(Date.now() + 1000)).toBe(3);
    expect(await s.get('job-l-000000')).toBeUndefined();
    expect((await s.list({})).total).toBe(4);
    expect((await s.counts()).completed).toBe(0);
  });

  it('requeues only the jobs its own worker id left running', async () => {
    const s = store();
    await s.create(newJob('job-r-000001'));
    await s.create(newJob('job-r-000002'));
    await s.transition('job-r-000001', ['pending'], 'running', { worker_id: 'me' });
    await s.transition('job-r-000002', ['pending'], 'running', { worker_id: 'other' });
    expect(await s.requeueInterrupted()).toEqual([]);
    const back = await s.requeueInterrupted('me');
    expect(back.map((j) => [j.job_id, j.status, j.attempt])).toEqual([['job-r-000001', 'pending', 2]]);
    expect((await s.get('job-r-000002'))?.status).toBe('running');
  });

  it('reloads its scripts after Redis forgot them', async () => {
    const s = store();
    await s.create(newJob('job-s-000001'));
    const admin = new Redis(url as string);
    await admin.script('FLUSH');
    await admin.quit();
    expect((await s.create(newJob('job-s-000002'))).kind).toBe('created');
  });
});

describe('distributed naming and tuning', () => {
  it('maps protocol priority to BullMQ priority (10 most urgent → 1)', () => {
    expect([10, 9, 5, 1].map(bullPriority)).toEqual([1, 2, 6, 10]);
  });

  it('makes BullMQ-safe job ids and queue names', () => {
    expect(bullJobId('job:with:colons-1')).toBe('j_job~with~colons-1');
    expect(bullJobId('12345678')).toBe('j_12345678');
    expect(queueName('gpu-pool')).toBe('pool-gpu-pool');
    expect(() => queueName('a:b')).toThrow(/Invalid worker pool 'a:b'/);
  });

  it('reads timing from the environment and refuses nonsense', () => {
    expect(tuningFromEnv({})).toMatchObject({ prefix: 'guestkit:', stallMs: 30_000, heartbeatMs: 5000 });
    expect(tuningFromEnv({ GUESTKIT_REDIS_PREFIX: 'x', GUESTKIT_REDIS_STALL_MS: '2000' })).toMatchObject({
      prefix: 'x:',
      stallMs: 2000,
    });
    expect(() => tuningFromEnv({ GUESTKIT_REDIS_STALL_MS: '10' })).toThrow(/GUESTKIT_REDIS_STALL_MS/);
  });
});

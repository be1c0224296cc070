// RunStore, the store one run of one job writes through (suite's redis-server): the start is one
// write that announces 'assigned' only once written, a refused start writes and announces
// nothing, progress events ride with the next move, and a run that lost its fence writes no
// events, status or result.
import { afterAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../src/distributed/run-store.js';
import { RedisJobStore } from '../../src/distributed/store.js';
import type { ProgressEvent, ResultDocument } from '../../src/protocol/schema.js';
import type { JobRecord } from '../../src/store/types.js';
import { newJob } from './new-job.js';

const url = process.env.GUESTKIT_TEST_REDIS_URL;
const stores: RedisJobStore[] = [];
let n = 0;

function store(): RedisJobStore {
  const prefix = `t-run-${process.pid}-${Date.now()}-${n++}:`;
  const s = new RedisJobStore({ redis: url as string, prefix, eventsPerJob: 100 });
  stores.push(s);
  return s;
}

afterAll(async () => {
  for (const s of stores) await s.close();
});

async function created(s: RedisJobStore, id: string): Promise<JobRecord> {
  return (await s.create(newJob(id))).job;
}

const event = (id: string, sequence: number): ProgressEvent => ({
  job_id: id,
  timestamp: new Date().toISOString(),
  sequence,
  phase: 'validation',
  progress_percent: sequence * 10,
  message: `step ${sequence}`,
});

const done = (id: string, workerId: string): ResultDocument => ({
  job_id: id,
  status: 'completed',
  completed_at: new Date().toISOString(),
  worker_id: workerId,
  execution_summary: { started_at: new Date().toISOString(), duration_seconds: 0, attempt: 1 },
  outputs: { artifacts: [] },
  data: null,
});

const trail = async (s: RedisJobStore, id: string) =>
  (await s.history(id)).map((h) => `${h.from ?? ''}>${h.to}`);

describe.skipIf(!url)('RunStore', () => {
  it('starts in one write: assigned is announced when written, events ride with the final move', async () => {
    const s = store();
    const job = await created(s, 'job-run-000001');
    const run = new RunStore(s, 'w1', 1);
    const announced: string[] = [];
    const assigned = await run.transition(
      'job-run-000001',
      ['pending'],
      'assigned',
      { worker_id: 'w1' },
      undefined,
      {
        current: job,
      },
    );
    expect(assigned).toMatchObject({ status: 'assigned', worker_id: 'w1' });
    run.whenWritten(() => announced.push('assigned'));
    expect(announced).toEqual([]);
    const running = await run.transition(
      'job-run-000001',
      ['assigned'],
      'running',
      { started_at: 5 },
      undefined,
      {
        current: assigned,
      },
    );
    expect(announced).toEqual(['assigned']);
    expect(running).toMatchObject({ status: 'running', worker_id: 'w1', started_at: 5, attempt: 1 });
    expect(await s.get('job-run-000001')).toMatchObject({
      status: 'running',
      worker_id: 'w1',
      started_at: 5,
    });

    await run.appendEvent(event('job-run-000001', 0));
    await run.appendEvent(event('job-run-000001', 1));
    const finished = await run.transition(
      'job-run-000001',
      ['running'],
      'completed',
      { completed_at: 9 },
      done('job-run-000001', 'w1'),
      { current: running },
    );
    expect(finished).toMatchObject({ status: 'completed', completed_at: 9, progress: { message: 'step 1' } });
    expect((await s.events('job-run-000001')).map((e) => e.sequence)).toEqual([0, 1]);
    expect((await s.result('job-run-000001'))?.worker_id).toBe('w1');
    expect(await trail(s, 'job-run-000001')).toEqual([
      '>pending',
      'pending>assigned',
      'assigned>running',
      'running>completed',
    ]);
    expect(await s.counts()).toMatchObject({ pending: 0, assigned: 0, running: 0, completed: 1 });
  });

  it('a start refused (the job was cancelled meanwhile) writes and announces nothing', async () => {
    const s = store();
    const job = await created(s, 'job-run-000002');
    const run = new RunStore(s, 'w1', 1);
    const announced: string[] = [];
    const assigned = await run.transition(
      'job-run-000002',
      ['pending'],
      'assigned',
      { worker_id: 'w1' },
      undefined,
      {
        current: job,
      },
    );
    run.whenWritten(() => announced.push('assigned'));
    await s.transition('job-run-000002', ['pending'], 'cancelled', { completed_at: Date.now() });
    expect(
      await run.transition('job-run-000002', ['assigned'], 'running', {}, undefined, { current: assigned }),
    ).toBeUndefined();
    expect(run.startRefused).toBe(true);
    expect(announced).toEqual([]);
    expect(await s.get('job-run-000002')).toMatchObject({ status: 'cancelled', worker_id: null });
    expect(await trail(s, 'job-run-000002')).toEqual(['>pending', 'pending>cancelled']);
  });

  it('a run that lost its fence writes no events, status or result', async () => {
    const s = store();
    const job = await created(s, 'job-run-000003');
    const old = new RunStore(s, 'w-old', 1);
    const a = await old.transition(
      'job-run-000003',
      ['pending'],
      'assigned',
      { worker_id: 'w-old' },
      undefined,
      {
        current: job,
      },
    );
    await old.transition('job-run-000003', ['assigned'], 'running', {}, undefined, { current: a });
    // Taken over: back to pending as attempt 2, then started by another worker.
    const taker = new RunStore(s, 'w-new', 1);
    const back = await taker.transition('job-run-000003', ['running'], 'pending', {
      attempt: 2,
      worker_id: null,
    });
    const b = await taker.transition(
      'job-run-000003',
      ['pending'],
      'assigned',
      { worker_id: 'w-new' },
      undefined,
      {
        current: back,
      },
    );
    await taker.transition('job-run-000003', ['assigned'], 'running', {}, undefined, { current: b });

    await old.appendEvent(event('job-run-000003', 7));
    await new Promise((r) => setImmediate(r)); // the buffered event goes out at the end of the turn
    await old.appendEvent(event('job-run-000003', 8));
    expect(
      await old.transition('job-run-000003', ['running'], 'completed', {}, done('job-run-000003', 'w-old')),
    ).toBeUndefined();
    expect(await s.events('job-run-000003')).toEqual([]);
    expect(await s.result('job-run-000003')).toBeUndefined();
    expect(await s.get('job-run-000003')).toMatchObject({
      status: 'running',
      worker_id: 'w-new',
      attempt: 2,
    });
  });
});

// RunStore, the store one run of one job writes through (suite's redis-server): the start is one
// write that announces 'assigned' only once written, a refused start writes and announces
// nothing, progress events ride with the next move, and a run that lost its fence writes no
// events, status or result. With a held start (a first delivery), a short run is one write with
// every history entry at its own time, a longer run's start is written when the hold runs out,
// and a start refused after the handler began stops the run.
import { afterAll, describe, expect, it } from 'vitest';
import { RunStore, type RunStoreOptions } from '../../src/distributed/run-store.js';
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

/** Polls `check` until it holds (state, not time, decides the test). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A run's start as the executor makes it: pending → assigned → running, each a move. */
async function begin(s: RedisJobStore, run: RunStore, job: JobRecord, announced: string[]) {
  const id = job.job_id;
  const assigned = await run.transition(id, ['pending'], 'assigned', { worker_id: 'w1' }, undefined, {
    current: job,
  });
  run.whenWritten(() => announced.push('assigned'));
  await new Promise((r) => setTimeout(r, 2)); // so each history entry has a time of its own
  const running = await run.transition(id, ['assigned'], 'running', { started_at: Date.now() }, undefined, {
    current: assigned,
  });
  run.whenWritten(() => announced.push('running'));
  return running as JobRecord;
}

/** A run holding its start `holdStartMs`, counting how often it is told to stop (onStartLost). */
function heldRun(s: RedisJobStore, holdStartMs: number) {
  const run = new RunStore(s, 'w1', 1, { holdStartMs });
  const told = { count: 0 };
  run.onStartLost = () => told.count++;
  return { run, told };
}

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

  it("a held start is written with a short run's end, in one move, each entry at its own time", async () => {
    const s = store();
    const job = await created(s, 'job-run-000004');
    const hold: RunStoreOptions = { holdStartMs: 60_000 };
    const run = new RunStore(s, 'w1', 1, hold);
    const announced: string[] = [];
    const running = await begin(s, run, job, announced);
    expect(running).toMatchObject({ status: 'running', worker_id: 'w1', attempt: 1 });
    await run.appendEvent(event('job-run-000004', 0));
    run.whenWritten(() => announced.push('progress 0'));
    await new Promise((r) => setTimeout(r, 20)); // the end-of-turn event flush waits for the start
    // Nothing is written or announced yet: the store still says pending, with no events.
    expect(announced).toEqual([]);
    expect(await s.get('job-run-000004')).toMatchObject({ status: 'pending', worker_id: null });
    expect(await s.events('job-run-000004')).toEqual([]);

    await new Promise((r) => setTimeout(r, 2));
    const finished = await run.transition(
      'job-run-000004',
      ['running'],
      'completed',
      { completed_at: Date.now() },
      done('job-run-000004', 'w1'),
      { current: running },
    );
    expect(finished).toMatchObject({ status: 'completed', worker_id: 'w1' });
    expect(announced).toEqual(['assigned', 'running', 'progress 0']);
    expect(await s.get('job-run-000004')).toMatchObject({
      status: 'completed',
      worker_id: 'w1',
      started_at: running.started_at,
    });
    expect((await s.events('job-run-000004')).map((e) => e.sequence)).toEqual([0]);
    const history = await s.history('job-run-000004');
    expect(history.map((h) => `${h.from ?? ''}>${h.to}`)).toEqual([
      '>pending',
      'pending>assigned',
      'assigned>running',
      'running>completed',
    ]);
    // Each entry keeps the time its status was entered, not the time of the one write.
    const at = history.map((h) => h.at);
    expect(at[1]).toBeLessThan(at[2]);
    expect(at[2]).toBeLessThan(at[3]);
    expect(at[2]).toBe(running.started_at);
    expect(await s.counts()).toMatchObject({ pending: 0, assigned: 0, running: 0, completed: 1 });
  });

  it('a run that outlives its hold has its start written then, with the events it reported', async () => {
    const s = store();
    const job = await created(s, 'job-run-000005');
    const run = new RunStore(s, 'w1', 1, { holdStartMs: 30 });
    const announced: string[] = [];
    const running = await begin(s, run, job, announced);
    await run.appendEvent(event('job-run-000005', 0));
    await until('the start to be written', async () => (await s.get('job-run-000005'))?.status === 'running');
    await until('its announcements', async () => announced.length === 2);
    expect(announced).toEqual(['assigned', 'running']);
    expect((await s.events('job-run-000005')).map((e) => e.sequence)).toEqual([0]);
    expect(await trail(s, 'job-run-000005')).toEqual(['>pending', 'pending>assigned', 'assigned>running']);

    // From here the run is an ordinary one: its end is a move of its own.
    await run.appendEvent(event('job-run-000005', 1));
    expect(
      await run.transition('job-run-000005', ['running'], 'completed', {}, done('job-run-000005', 'w1'), {
        current: running,
      }),
    ).toMatchObject({ status: 'completed' });
    expect((await s.events('job-run-000005')).map((e) => e.sequence)).toEqual([0, 1]);
    expect(await trail(s, 'job-run-000005')).toEqual([
      '>pending',
      'pending>assigned',
      'assigned>running',
      'running>completed',
    ]);
  });

  it('a cancel during the hold wins: the run is told to stop and writes nothing', async () => {
    const s = store();
    const job = await created(s, 'job-run-000006');
    const { run, told } = heldRun(s, 30);
    const announced: string[] = [];
    const running = await begin(s, run, job, announced);
    await run.appendEvent(event('job-run-000006', 0));
    await s.transition('job-run-000006', ['pending'], 'cancelled', { completed_at: Date.now() });
    await until('the run to be told', async () => told.count === 1);
    // The run's end (here: what an aborted run writes) is refused too.
    expect(
      await run.transition('job-run-000006', ['running'], 'pending', { attempt: 2 }, undefined, {
        current: running,
      }),
    ).toBeUndefined();
    expect(run.startRefused).toBe(false); // the handler ran: the processor must not run it again
    expect(announced).toEqual([]);
    expect(await s.get('job-run-000006')).toMatchObject({ status: 'cancelled', worker_id: null, attempt: 1 });
    expect(await s.events('job-run-000006')).toEqual([]);
    expect(await trail(s, 'job-run-000006')).toEqual(['>pending', 'pending>cancelled']);

    // Cancelled before a short run ends: its one write is refused, nothing is announced.
    const job2 = await created(s, 'job-run-000007');
    const run2 = new RunStore(s, 'w1', 1, { holdStartMs: 60_000 });
    const announced2: string[] = [];
    const running2 = await begin(s, run2, job2, announced2);
    await s.transition('job-run-000007', ['pending'], 'cancelled', { completed_at: Date.now() });
    expect(
      await run2.transition('job-run-000007', ['running'], 'completed', {}, done('job-run-000007', 'w1'), {
        current: running2,
      }),
    ).toBeUndefined();
    expect(announced2).toEqual([]);
    expect(await s.result('job-run-000007')).toBeUndefined();
    expect(await trail(s, 'job-run-000007')).toEqual(['>pending', 'pending>cancelled']);
  });

  it('a start refused after the handler began fences the rest of the run by worker id', async () => {
    const s = store();
    const job = await created(s, 'job-run-000008');
    const { run: a, told } = heldRun(s, 30);
    const runningA = await begin(s, a, job, []);
    // Its lock lost, the job went to another worker that started it at the same attempt.
    const b = new RunStore(s, 'w2', 1);
    const assignedB = await b.transition(
      'job-run-000008',
      ['pending'],
      'assigned',
      { worker_id: 'w2' },
      undefined,
      {
        current: job,
      },
    );
    await b.transition('job-run-000008', ['assigned'], 'running', { started_at: 1 }, undefined, {
      current: assignedB,
    });
    await until('the first run to be told', async () => told.count === 1);
    // What the stopped run still sends (its events, its move back to pending) lands nowhere.
    await a.appendEvent(event('job-run-000008', 0));
    await new Promise((r) => setTimeout(r, 20));
    expect(
      await a.transition(
        'job-run-000008',
        ['running'],
        'pending',
        { attempt: 2, worker_id: null },
        undefined,
        {
          current: runningA,
        },
      ),
    ).toBeUndefined();
    expect(await s.events('job-run-000008')).toEqual([]);
    expect(await s.get('job-run-000008')).toMatchObject({ status: 'running', worker_id: 'w2', attempt: 1 });
  });

  it('a run disposed with its start still held writes nothing, even after the hold', async () => {
    const s = store();
    const job = await created(s, 'job-run-000009');
    const run = new RunStore(s, 'w1', 1, { holdStartMs: 10 });
    await begin(s, run, job, []);
    run.dispose();
    // A control run held as long, begun later: once its start is written, the first one's hold
    // has run out too.
    const control = await created(s, 'job-run-000010');
    await begin(s, new RunStore(s, 'w1', 1, { holdStartMs: 10 }), control, []);
    await until('the control start', async () => (await s.get('job-run-000010'))?.status === 'running');
    expect(await s.get('job-run-000009')).toMatchObject({ status: 'pending', worker_id: null });
    expect(await trail(s, 'job-run-000009')).toEqual(['>pending']);
  });
});

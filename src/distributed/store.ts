// JobStore on Redis: the shared state of every API node and worker in distributed mode (status,
// progress events, results, audit trail, idempotency keys). Atomic decisions run as Lua scripts
// (scripts/, one file each); reads are plain commands; records.ts maps hashes to records.
import type { Redis } from 'ioredis';
import { redisClient } from './connection.js';
import { isTerminal, type JobStatus, type ProgressEvent, type ResultDocument } from '../protocol/schema.js';
import { JOB_STATUSES } from '../protocol/vocabulary.js';
import { invalidCursor } from '../store/sqlite.js';
import type {
  CreateOutcome,
  JobRecord,
  JobStore,
  NewJob,
  StatusHistoryEntry,
  StoreListPage,
  TransitionOptions,
  TransitionPatch,
} from '../store/types.js';
import type { JobProgress, ListQuery } from '../worker/types.js';
import { pairsToHash, patchPairs, progressOf, recordFromHash, withMutable } from './records.js';
import { SCRIPTS, type ScriptName } from './scripts/index.js';

export const ALL_STATUSES: readonly JobStatus[] = JOB_STATUSES;

/** Extra condition on a transition: the job's worker and attempt must still be these. */
export interface RunGuard {
  workerId?: string;
  attempt?: number;
}

export interface RedisStoreOptions {
  /** An ioredis client (shared) or a URL (the store opens and closes its own). */
  redis: Redis | string;
  /** Key prefix, e.g. `guestkit:` (ends with a colon). */
  prefix: string;
  eventsPerJob: number;
}

/**
 * One status move (see scripts/move.ts). `via`: statuses passed through on the way, each with
 * when it was entered (their history entries are written; the job never rests there in Redis). `events`: progress events of the job that happened
 * before the move, written first in the same call. `current`: the caller's record of the job; with
 * it only the fields a move can change are read back.
 */
export interface Move {
  from: readonly JobStatus[];
  via?: readonly { status: JobStatus; at: number }[];
  to: JobStatus;
  patch?: TransitionPatch;
  result?: ResultDocument;
  guard?: RunGuard;
  current?: JobRecord;
  events?: readonly ProgressEvent[];
}

/** Events written in one script call at most (Lua's unpack has a stack limit). */
export const MAX_EVENTS_PER_CALL = 1000;

export class RedisJobStore implements JobStore {
  readonly kind = 'redis';
  readonly redis: Redis;
  private readonly owned: boolean;
  private readonly p: string;
  private readonly envelopes = new Map<string, JobRecord['envelope']>();

  constructor(private readonly options: RedisStoreOptions) {
    this.owned = typeof options.redis === 'string';
    this.redis =
      typeof options.redis === 'string' ? redisClient(options.redis, 'guestkit-store') : options.redis;
    this.p = options.prefix;
  }

  async open(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * Runs a script as an ioredis command: EVALSHA, with the source sent once per connection (and
   * again after a NOSCRIPT), so calls keep their order on the connection, even the first ones.
   */
  private run(script: ScriptName, args: (string | number)[]): Promise<unknown> {
    const r = this.redis as unknown as Record<
      ScriptName,
      ((...a: (string | number)[]) => Promise<unknown>) | undefined
    >;
    if (!r[script]) {
      for (const [name, lua] of Object.entries(SCRIPTS))
        this.redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
    return (r[script] as (...a: (string | number)[]) => Promise<unknown>).call(this.redis, ...args);
  }

  /** `pool`: the queue the job goes to (kept so a worker can re-queue orphans of its pool only). */
  async create(job: NewJob, pool = ''): Promise<CreateOutcome> {
    const e = job.execution;
    const fields = [
      'job_id', job.job_id,
      'operation', job.operation,
      'payload_type', job.payload_type,
      'attempt', job.attempt,
      'execution', JSON.stringify(e),
      'priority', e.priority,
      'submitted_at', job.submitted_at,
      'source', job.source,
      'idem', e.idempotency_key ?? '',
      'pool', pool,
    ]; // prettier-ignore
    const [kind, reply] = (await this.run('gkCreate', [
      this.p,
      job.job_id,
      e.idempotency_key ?? '',
      job.document,
      job.submitted_at,
      job.operation,
      ...fields,
    ])) as [CreateOutcome['kind'], string[] | number];
    if (kind !== 'created') return { kind, job: recordFromHash(pairsToHash(reply as string[])) };
    const record: JobRecord = {
      job_id: job.job_id,
      operation: job.operation,
      payload_type: job.payload_type,
      status: 'pending',
      attempt: job.attempt,
      execution: e,
      submitted_at: job.submitted_at,
      started_at: null,
      completed_at: null,
      not_before: null,
      worker_id: null,
      progress: null,
      error: null,
      seq: Number(reply),
      envelope: job.envelope,
      source: job.source,
    };
    this.remember(record);
    return { kind, job: record };
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(`${this.p}job:${jobId}`);
    if (!h.status) return undefined;
    const record = recordFromHash(h);
    if (!isTerminal(record.status)) this.remember(record);
    return record;
  }

  /** Envelopes never change: transitions reuse the parsed one instead of reading the document back. */
  private remember(record: JobRecord): void {
    if (this.envelopes.size >= 10_000) this.envelopes.clear();
    this.envelopes.set(record.job_id, record.envelope);
  }

  private async envelopeOf(jobId: string): Promise<JobRecord['envelope']> {
    const known = this.envelopes.get(jobId);
    if (known) return known;
    const doc = await this.redis.hget(`${this.p}job:${jobId}`, 'document');
    return JSON.parse(doc ?? 'null') as JobRecord['envelope'];
  }

  transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch = {},
    result?: ResultDocument,
    options: TransitionOptions = {},
  ): Promise<JobRecord | undefined> {
    return this.move(jobId, { from, to, patch, result, current: options.current });
  }

  /** `transition` that also requires the job's worker_id / attempt to be the guard's (a run's fence). */
  transitionIf(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch,
    result: ResultDocument | undefined,
    guard: RunGuard,
  ): Promise<JobRecord | undefined> {
    return this.move(jobId, { from, to, patch, result, guard });
  }

  /** One status move in one script call; undefined when the status or the guard did not match. */
  async move(jobId: string, m: Move): Promise<JobRecord | undefined> {
    const events = m.events ?? [];
    if (events.length > MAX_EVENTS_PER_CALL)
      throw new RangeError(`at most ${MAX_EVENTS_PER_CALL} events per move`);
    const last = events[events.length - 1];
    const reply = (await this.run('gkMove', [
      this.p,
      jobId,
      m.from.join(','),
      m.via?.map((v) => `${v.status}:${v.at}`).join(',') ?? '',
      m.to,
      Date.now(),
      m.guard?.workerId ?? '',
      m.guard?.attempt === undefined ? '' : String(m.guard.attempt),
      m.result ? JSON.stringify(m.result) : '',
      m.current ? 'mutable' : 'full',
      this.options.eventsPerJob,
      events.length,
      last ? JSON.stringify(progressOf(last)) : '',
      ...events.map((e) => JSON.stringify(e)),
      ...patchPairs(m.patch ?? {}),
    ])) as (string | null)[] | null;
    if (!reply) return undefined;
    if (isTerminal(m.to)) this.envelopes.delete(jobId);
    if (m.current) return withMutable(m.current, m.to, reply);
    return recordFromHash(pairsToHash(reply as string[]), await this.envelopeOf(jobId));
  }

  /** Sets the progress of a job that is still pending (why it waits). */
  async setWaitingReason(jobId: string, progress: JobProgress): Promise<void> {
    await this.move(jobId, { from: ['pending'], to: 'pending', patch: { progress } });
  }

  async appendEvent(event: ProgressEvent): Promise<void> {
    await this.appendEvents(event.job_id, [event]);
  }

  /**
   * Stores events of one job in one call (with its latest progress) unless the job is unknown,
   * terminal or, with a guard, no longer the guard's run. False when ignored.
   */
  async appendEvents(
    jobId: string,
    events: readonly ProgressEvent[],
    guard: RunGuard = {},
  ): Promise<boolean> {
    if (events.length === 0) return true;
    if (events.length > MAX_EVENTS_PER_CALL)
      throw new RangeError(`at most ${MAX_EVENTS_PER_CALL} events per call`);
    const stored = await this.run('gkAppendEvents', [
      this.p,
      jobId,
      guard.workerId ?? '',
      guard.attempt === undefined ? '' : String(guard.attempt),
      this.options.eventsPerJob,
      JSON.stringify(progressOf(events[events.length - 1])),
      ...events.map((e) => JSON.stringify(e)),
    ]);
    return Number(stored) === 1;
  }

  async events(jobId: string, afterSequence = -1): Promise<ProgressEvent[]> {
    const raw = await this.redis.lrange(`${this.p}ev:${jobId}`, 0, -1);
    return raw.map((r) => JSON.parse(r) as ProgressEvent).filter((e) => e.sequence > afterSequence);
  }

  async lastSequence(jobId: string): Promise<number> {
    const last = await this.redis.lindex(`${this.p}ev:${jobId}`, -1);
    return last ? (JSON.parse(last) as ProgressEvent).sequence : -1;
  }

  async result(jobId: string): Promise<ResultDocument | undefined> {
    const r = await this.redis.get(`${this.p}result:${jobId}`);
    return r ? (JSON.parse(r) as ResultDocument) : undefined;
  }

  async history(jobId: string): Promise<StatusHistoryEntry[]> {
    const raw = await this.redis.lrange(`${this.p}hist:${jobId}`, 0, -1);
    return raw.map((line) => {
      const [from, to, at, attempt] = line.split('|');
      return {
        job_id: jobId,
        from: from === '' ? null : (from as JobStatus),
        to: to as JobStatus,
        at: Number(at),
        attempt: Number(attempt),
      };
    });
  }

  private async records(ids: string[]): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(`${this.p}job:${id}`);
    const out: JobRecord[] = [];
    for (const [err, h] of (await pipe.exec()) ?? []) {
      const hash = h as Record<string, string>;
      if (!err && hash.status) out.push(recordFromHash(hash));
    }
    return out;
  }

  async list(query: ListQuery): Promise<StoreListPage> {
    const limit = Math.min(1000, Math.max(1, query.limit ?? 100));
    if (query.cursor && !/^\d+$/.test(query.cursor)) throw invalidCursor(query.cursor);
    const max = query.cursor ? `(${query.cursor}` : '+inf';
    const index = query.operation
      ? `${this.p}op:${query.operation}`
      : `${this.p}${query.status ? `st:${query.status}` : 'jobs'}`;
    const both = query.operation !== undefined && query.status !== undefined;
    const total = both
      ? Number(await this.redis.call('ZINTERCARD', 2, index, `${this.p}st:${query.status}`))
      : await this.redis.zcard(index);
    // With both filters, walk the operation index and keep the matching status.
    const page: JobRecord[] = [];
    let upper = max;
    for (;;) {
      const chunk = both ? 500 : limit + 1;
      const ids = await this.redis.zrevrangebyscore(index, upper, '-inf', 'LIMIT', 0, chunk);
      const recs = await this.records(ids);
      for (const r of recs) if (!both || r.status === query.status) page.push(r);
      if (!both || ids.length < chunk || page.length > limit) break;
      upper = `(${recs.length ? recs[recs.length - 1].seq : 0}`;
    }
    const jobs = page.slice(0, limit);
    const next = page.length > limit ? String(jobs[jobs.length - 1].seq) : null;
    return { jobs, total, next_cursor: next };
  }

  async counts(): Promise<Record<JobStatus, number>> {
    const h = await this.redis.hgetall(`${this.p}counts`);
    const out = {} as Record<JobStatus, number>;
    for (const s of ALL_STATUSES) out[s] = Math.max(0, Number(h[s] ?? 0));
    return out;
  }

  /** Pending jobs queued to `pool`: [job_id, protocol priority]. */
  async pendingInPool(pool: string): Promise<[string, number][]> {
    const ids = await this.redis.zrange(`${this.p}st:pending`, 0, -1);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(`${this.p}job:${id}`, 'pool', 'priority');
    const out: [string, number][] = [];
    ((await pipe.exec()) ?? []).forEach(([err, v], i) => {
      const [p, priority] = v as [string | null, string | null];
      if (!err && p === pool) out.push([ids[i], Number(priority)]);
    });
    return out;
  }

  async pending(limit: number): Promise<JobRecord[]> {
    const ids = await this.redis.zrange(`${this.p}st:pending`, 0, limit - 1);
    const recs = await this.records(ids);
    return recs.sort((a, b) => b.execution.priority - a.execution.priority || a.seq - b.seq);
  }

  /**
   * Jobs this worker id left assigned/running (a restart under the same --worker-id) go back to
   * pending with attempt + 1. Without a worker id nothing is touched: in distributed mode other
   * live workers own the rest, and BullMQ's stalled-job check recovers those of dead workers.
   */
  async requeueInterrupted(workerId?: string): Promise<JobRecord[]> {
    if (workerId === undefined) return [];
    const out: JobRecord[] = [];
    for (const st of ['assigned', 'running'] as const) {
      const ids = await this.redis.zrange(`${this.p}st:${st}`, 0, -1);
      for (const r of await this.records(ids)) {
        if (r.worker_id !== workerId) continue;
        const next = await this.transitionIf(
          r.job_id,
          [st],
          'pending',
          { attempt: r.attempt + 1, worker_id: null, not_before: null },
          undefined,
          { workerId, attempt: r.attempt },
        );
        if (next) out.push(next);
      }
    }
    return out;
  }

  async purgeTerminal(olderThan: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = Number(await this.run('gkPurge', [this.p, olderThan, 500]));
      total += n;
      if (n < 500) return total;
    }
  }

  async deleteTerminal(jobId: string): Promise<boolean> {
    return Number(await this.run('gkDeleteDone', [this.p, jobId])) === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

// Embedded JobStore on SQLite (better-sqlite3). WAL + synchronous=NORMAL: a commit survives a
// process crash (kill -9), which is what at-least-once needs; fsync per commit is skipped.
// better-sqlite3 is synchronous: every statement here is prepared once and touches a handful of
// rows through an index (microseconds), so running it on the JS thread is acceptable.
//
// Group commit: writes made during one event-loop turn share one transaction, committed on
// setImmediate; each write's promise resolves only after that commit, so whatever a caller
// acknowledges (a submission, a terminal status) is durable. Each write runs in its own savepoint,
// so a failing one leaves the others intact. Writes a crash may lose without harm (durable: false)
// are deferred and merged into the job's next write (sqlite-deferred.ts).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { WorkerError } from '../protocol/errors.js';
import { WalCheckpointer } from './checkpointer.js';
import {
  TERMINAL_STATUSES,
  type JobStatus,
  type ProgressEvent,
  type ResultDocument,
  type TerminalStatus,
} from '../protocol/schema.js';
import type { JobProgress, ListQuery } from '../worker/types.js';
import { DeferredWrites, type TransitionState } from './sqlite-deferred.js';
import {
  ALL_STATUSES,
  PURGE_BATCH,
  SCHEMA,
  decodeCursor,
  encodeCursor,
  fromRow,
  invalidCursor,
  type JobRow,
} from './sqlite-rows.js';
import type {
  CreateOutcome,
  JobRecord,
  JobStore,
  NewJob,
  StatusHistoryEntry,
  StoreListPage,
  TransitionOptions,
  TransitionPatch,
  WriteOptions,
} from './types.js';

export { decodeCursor, encodeCursor, invalidCursor };

export interface SqliteStoreOptions {
  /** File path, or ':memory:' (non-durable; tests and benchmark anchor). */
  path: string;
  /** Progress events kept per job. Default 1000. */
  eventsPerJob?: number;
}

/** How long a write waits for the database lock (the checkpoint thread's) before it fails. */
const BUSY_WAIT_MS = 5000;
/** The busy handler's wait per try of begin(): how soon a released lock is noticed. */
const BUSY_POLL_MS = 1;
/** Something to Atomics.wait on: a synchronous sleep (begin() blocks the thread either way). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Opens the database and checks it (PRAGMA quick_check). A damaged store used to start "healthy":
 * submissions got 201, jobs stayed pending forever and the list answered 500. Now the worker stops
 * at start with a message naming the file and what to do.
 */
function openChecked(path: string): Database.Database {
  let db: Database.Database | undefined;
  let problem: string;
  try {
    db = new Database(path);
    db.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    if (rows.length === 1 && rows[0].quick_check === 'ok') return db;
    problem = rows
      .slice(0, 3)
      .map((r) => r.quick_check)
      .join('; ');
  } catch (err) {
    problem = (err as Error).message;
  }
  db?.close();
  throw new WorkerError(
    'WORKER_UNAVAILABLE',
    `The job store ${path} is damaged (${problem}). Stop every worker using it, then restore it from a ` +
      `backup, or move it aside (the worker starts with an empty store) and recover what you can with ` +
      `sqlite3 ${path} .recover`,
    { details: { path, problem } },
  );
}

export class SqliteStore implements JobStore {
  readonly kind = 'sqlite';
  private db: Database.Database | undefined;
  private readonly eventsPerJob: number;
  private stmts!: ReturnType<SqliteStore['prepare']>;
  /** Dynamic statements (transition patches, list filters) prepared once per distinct SQL text. */
  private readonly cache = new Map<string, Database.Statement>();
  /** The open group-commit transaction's waiters (undefined when none is open). */
  private batch: { resolve: () => void; reject: (err: unknown) => void }[] | undefined;
  private savepoint!: (fn: () => unknown) => unknown;
  private checkpointer: WalCheckpointer | undefined;
  private deferred!: DeferredWrites;
  /** Jobs whose deferred writes failed at a commit: their next transition reports it (bounded). */
  private readonly lost = new Map<string, unknown>();

  constructor(private readonly options: SqliteStoreOptions) {
    this.eventsPerJob = options.eventsPerJob ?? 1000;
  }

  async open(): Promise<void> {
    if (this.db) return;
    if (this.options.path !== ':memory:') mkdirSync(dirname(this.options.path), { recursive: true });
    const db = this.options.path === ':memory:' ? new Database(':memory:') : openChecked(this.options.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
    db.pragma('foreign_keys = OFF');
    db.exec(SCHEMA);
    if (this.options.path !== ':memory:') {
      // No journal_size_limit: the checkpoint thread bounds the WAL and shrinks it (see there).
      db.pragma('wal_autocheckpoint = 0');
      // From here on a lock the checkpoint thread holds is waited out by begin(), not by SQLite.
      db.pragma(`busy_timeout = ${BUSY_POLL_MS}`);
      this.checkpointer = new WalCheckpointer(this.options.path);
    }
    this.db = db;
    this.stmts = this.prepare(db);
    // Inside the open batch transaction, better-sqlite3 runs this as a SAVEPOINT.
    this.savepoint = db.transaction((fn: () => unknown) => fn());
    this.deferred = new DeferredWrites(db, (text) => this.sql(text), this.eventsPerJob);
  }

  /**
   * Runs `fn` in the current group-commit batch; resolves after the batch commits (or at once
   * when `durable` is false: the write is applied now and committed with the batch).
   */
  private write<T>(fn: () => T, durable = true): Promise<T> {
    this.openBatch();
    let value: T;
    try {
      value = this.savepoint(fn) as T;
    } catch (err) {
      return Promise.reject(err);
    }
    if (!durable) return Promise.resolve(value);
    return new Promise<T>((resolve, reject) => this.batch?.push({ resolve: () => resolve(value), reject }));
  }

  /** Opens the group-commit transaction unless one is open; it commits on setImmediate. */
  private openBatch(): void {
    if (this.batch) return;
    this.begin(this.conn);
    this.batch = [];
    setImmediate(() => this.commit());
  }

  /** Writes one job's deferred state now (in the open batch, in its own savepoint). */
  private settle(jobId: string): void {
    if (this.deferred.has(jobId)) this.savepoint(() => this.deferred.flush(jobId));
  }

  /** Writes every job's deferred state now (before reads and writes that span jobs). */
  private settleAll(): void {
    for (const id of this.deferred.ids()) {
      try {
        this.settle(id);
      } catch (err) {
        // The job's transitions since its last durable write are lost (as in a crash); its next
        // transition says why instead of failing a compare-and-set silently.
        if (this.lost.size < 1000) this.lost.set(id, err);
      }
    }
  }

  /**
   * BEGIN IMMEDIATE, tried again until BUSY_WAIT_MS has passed. Each try waits BUSY_POLL_MS in
   * SQLite's busy handler (the connection's busy_timeout), so a wait ends within a millisecond of
   * the lock's release. SQLite's own handler sleeps on a fixed schedule (1, 2, 5, 10, 15, 20, 25,
   * 25, 25, 50, 50, 100 ms…): the JS thread's BEGIN, waiting out a checkpoint that held the lock
   * for 20 ms, woke at 33 or 53 ms, and at 328 or 528 ms when it held it a little longer —
   * measured, the stalls fell exactly on those sums. Also seen under load: SQLITE_BUSY returned
   * at once, without the busy handler (the WAL-index read marks being rewritten by the checkpoint
   * thread's connection); the same loop takes it.
   */
  private begin(db: Database.Database): void {
    const deadline = Date.now() + BUSY_WAIT_MS;
    for (;;) {
      const tried = performance.now();
      try {
        db.exec('BEGIN IMMEDIATE');
        return;
      } catch (err) {
        const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY') === true;
        if (!busy || Date.now() >= deadline) throw err;
        // Refused without the busy handler's wait: pause as it would have, rather than spin.
        if (performance.now() - tried < BUSY_POLL_MS / 2) Atomics.wait(PAUSE, 0, 0, BUSY_POLL_MS);
      }
    }
  }

  private commit(): void {
    if (this.batch && this.db) this.settleAll();
    const waiters = this.batch;
    this.batch = undefined;
    if (!waiters || !this.db) return;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // already rolled back
      }
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  async close(): Promise<void> {
    this.commit();
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    this.cache.clear();
    this.db?.close();
    this.db = undefined;
  }

  private sql(text: string): Database.Statement {
    let stmt = this.cache.get(text);
    if (!stmt) {
      stmt = this.conn.prepare(text);
      this.cache.set(text, stmt);
    }
    return stmt;
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('SqliteStore is not open (call open() first)');
    return this.db;
  }

  private prepare(db: Database.Database) {
    return {
      byId: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE job_id = ?'),
      statusOf: db.prepare<[string], { status: JobStatus }>('SELECT status FROM jobs WHERE job_id = ?'),
      insert: db.prepare(
        `INSERT INTO jobs (job_id, operation, payload_type, status, attempt, priority, execution, submitted_at,
           idempotency_key, envelope, source)
         VALUES (@job_id, @operation, @payload_type, 'pending', @attempt, @priority, @execution, @submitted_at,
           @idempotency_key, @envelope, @source)
         ON CONFLICT (job_id) DO NOTHING`,
      ),
      keyGet: db.prepare<[string], { job_id: string }>('SELECT job_id FROM idempotency_keys WHERE key = ?'),
      keyPut: db.prepare('INSERT OR REPLACE INTO idempotency_keys (key, job_id) VALUES (?, ?)'),
      history: db.prepare(
        'INSERT INTO status_history (job_id, from_status, to_status, at, attempt) VALUES (?, ?, ?, ?, ?)',
      ),
      historyOf: db.prepare<
        [string],
        { job_id: string; from_status: JobStatus | null; to_status: JobStatus; at: number; attempt: number }
      >(
        'SELECT job_id, from_status, to_status, at, attempt FROM status_history WHERE job_id = ? ORDER BY id',
      ),
      eventPut: db.prepare('INSERT OR REPLACE INTO events (job_id, sequence, body) VALUES (?, ?, ?)'),
      eventTrim: db.prepare('DELETE FROM events WHERE job_id = ? AND sequence <= ?'),
      progressPut: db.prepare('UPDATE jobs SET progress = ? WHERE job_id = ?'),
      eventsAfter: db.prepare<[string, number], { body: string }>(
        'SELECT body FROM events WHERE job_id = ? AND sequence > ? ORDER BY sequence',
      ),
      lastSeq: db.prepare<[string], { s: number | null }>(
        'SELECT MAX(sequence) AS s FROM events WHERE job_id = ?',
      ),
      resultPut: db.prepare('INSERT OR REPLACE INTO results (job_id, body) VALUES (?, ?)'),
      resultGet: db.prepare<[string], { body: string }>('SELECT body FROM results WHERE job_id = ?'),
      counts: db.prepare<[], { status: JobStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM jobs GROUP BY status',
      ),
      pending: db.prepare<[number], JobRow>(
        "SELECT * FROM jobs INDEXED BY jobs_pending WHERE status = 'pending' ORDER BY priority DESC, seq LIMIT ?",
      ),
      pendingAfter: db.prepare<[{ limit: number; priority: number; seq: number }], JobRow>(
        `SELECT * FROM jobs INDEXED BY jobs_pending WHERE status = 'pending'
           AND (priority < @priority OR (priority = @priority AND seq > @seq))
         ORDER BY priority DESC, seq LIMIT @limit`,
      ),
      interrupted: db.prepare<[], JobRow>(
        "SELECT * FROM jobs WHERE status IN ('assigned', 'running') ORDER BY seq",
      ),
      expired: db.prepare<[number], { job_id: string }>(
        `SELECT job_id FROM jobs WHERE completed_at IS NOT NULL AND completed_at < ? LIMIT ${PURGE_BATCH}`,
      ),
      ping: db.prepare('SELECT 1'),
    };
  }

  async create(job: NewJob): Promise<CreateOutcome> {
    const s = this.stmts;
    return this.write((): CreateOutcome => {
      this.deferred.flush(job.job_id);
      const key = job.execution.idempotency_key;
      const existingOutcome = (): CreateOutcome | undefined => {
        const existing = s.byId.get(job.job_id);
        if (!existing) return undefined;
        const kind = existing.envelope === job.document ? 'same_document' : 'duplicate_job_id';
        return { kind, job: fromRow(existing) };
      };
      if (key !== null) {
        const existing = existingOutcome();
        if (existing) return existing;
        const owner = s.keyGet.get(key);
        const prior = owner ? s.byId.get(owner.job_id) : undefined;
        if (prior) {
          if (prior.status === 'completed') return { kind: 'idempotent_completed', job: fromRow(prior) };
          if (!['failed', 'cancelled', 'timeout'].includes(prior.status)) {
            return { kind: 'idempotent_in_flight', job: fromRow(prior) };
          }
        }
      }
      // A new id is the common case: insert, and look for the existing job only on a conflict.
      const info = s.insert.run({
        job_id: job.job_id,
        operation: job.operation,
        payload_type: job.payload_type,
        attempt: job.attempt,
        priority: job.execution.priority,
        execution: JSON.stringify(job.execution),
        submitted_at: job.submitted_at,
        idempotency_key: key,
        envelope: job.document,
        source: job.source,
      });
      if (info.changes === 0) {
        const existing = existingOutcome();
        if (existing) return existing;
        throw new Error(`job ${job.job_id} was neither inserted nor found`);
      }
      if (key !== null) s.keyPut.run(key, job.job_id);
      s.history.run(job.job_id, null, 'pending', job.submitted_at, job.attempt);
      const { document: _document, ...fields } = job;
      const created: JobRecord = {
        ...fields,
        seq: Number(info.lastInsertRowid),
        status: 'pending',
        started_at: null,
        completed_at: null,
        not_before: null,
        worker_id: null,
        progress: null,
        error: null,
      };
      return { kind: 'created', job: created };
    });
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    this.settle(jobId);
    const row = this.stmts.byId.get(jobId);
    return row ? fromRow(row) : undefined;
  }

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch = {},
    result?: ResultDocument,
    options: TransitionOptions = {},
  ): Promise<JobRecord | undefined> {
    const s = this.stmts;
    const current = options.current;
    const durable = options.durable ?? true;
    const lost = this.lost.get(jobId);
    if (lost !== undefined) {
      this.lost.delete(jobId);
      throw lost;
    }
    // Not durable, and the caller's record to build the answer from: nothing is written until
    // the job's next durable write or the commit, whichever comes first.
    if (!durable && current && !result) {
      this.openBatch();
      const state = this.deferred.transition(jobId, from, to, patch);
      return state && withPatch(current, to, patch, state);
    }
    if (this.deferred.has(jobId)) {
      // The job's deferred writes and this one, written as one.
      return this.write((): JobRecord | undefined => {
        const state = this.deferred.transition(jobId, from, to, patch);
        const moved = this.deferred.flush(jobId);
        if (!state || !moved) return undefined;
        if (result) s.resultPut.run(jobId, JSON.stringify(result));
        if (current) return withPatch(current, to, patch, state);
        const row = s.byId.get(jobId);
        return row && fromRow(row);
      }, durable);
    }
    return this.write((): JobRecord | undefined => {
      // With one expected status the compare-and-set is the UPDATE's own WHERE (no read first).
      const prior: JobStatus | undefined = from.length === 1 ? from[0] : s.statusOf.get(jobId)?.status;
      if (prior === undefined || !from.includes(prior)) return undefined;
      const sets: string[] = ['status = @to'];
      const params: Record<string, unknown> = { to, job_id: jobId, prior };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) continue;
        sets.push(`${k} = @${k}`);
        params[k] = (k === 'error' || k === 'progress') && v !== null ? JSON.stringify(v) : v;
      }
      // With the caller's record, only what may have changed behind its back is read back
      // (progress: written by appendEvent); parsing the whole row (envelope) per transition was
      // a large share of a short job's cost. Column names come from TransitionPatch keys only;
      // the statement cache keeps this cheap.
      const returning = current ? 'attempt, progress' : '*';
      const row = this.sql(
        `UPDATE jobs SET ${sets.join(', ')} WHERE job_id = @job_id AND status = @prior RETURNING ${returning}`,
      ).get(params) as JobRow | Pick<JobRow, 'attempt' | 'progress'> | undefined;
      if (!row) return undefined;
      s.history.run(jobId, prior, to, Date.now(), row.attempt);
      if (result) s.resultPut.run(jobId, JSON.stringify(result));
      if (!current) return fromRow(row as JobRow);
      const progress = row.progress === null ? null : (JSON.parse(row.progress) as JobProgress);
      return withPatch(current, to, patch, { attempt: row.attempt, progress });
    }, durable);
  }

  async appendEvent(event: ProgressEvent, options: WriteOptions = {}): Promise<void> {
    const s = this.stmts;
    const progress: JobProgress = {
      phase: event.phase,
      percent: event.progress_percent,
      message: event.message,
    };
    if (options.durable === false) {
      // Written with the job's next write or at the commit: one UPDATE of progress per commit.
      this.openBatch();
      this.deferred.event(event, progress);
      return;
    }
    await this.write(() => {
      this.deferred.flush(event.job_id);
      s.eventPut.run(event.job_id, event.sequence, JSON.stringify(event));
      if (event.sequence >= this.eventsPerJob)
        s.eventTrim.run(event.job_id, event.sequence - this.eventsPerJob);
      s.progressPut.run(JSON.stringify(progress), event.job_id);
    });
  }

  async events(jobId: string, afterSequence = -1): Promise<ProgressEvent[]> {
    this.settle(jobId);
    return this.stmts.eventsAfter.all(jobId, afterSequence).map((r) => JSON.parse(r.body) as ProgressEvent);
  }

  async lastSequence(jobId: string): Promise<number> {
    this.settle(jobId);
    return this.stmts.lastSeq.get(jobId)?.s ?? -1;
  }

  async result(jobId: string): Promise<ResultDocument | undefined> {
    this.settle(jobId);
    const row = this.stmts.resultGet.get(jobId);
    return row ? (JSON.parse(row.body) as ResultDocument) : undefined;
  }

  async history(jobId: string): Promise<StatusHistoryEntry[]> {
    this.settle(jobId);
    return this.stmts.historyOf.all(jobId).map((r) => ({
      job_id: r.job_id,
      from: r.from_status,
      to: r.to_status,
      at: r.at,
      attempt: r.attempt,
    }));
  }

  async list(query: ListQuery): Promise<StoreListPage> {
    this.settleAll();
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.status) {
      where.push('status = ?');
      params.push(query.status);
    }
    if (query.operation) {
      where.push('operation = ?');
      params.push(query.operation);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.sql(`SELECT COUNT(*) AS n FROM jobs ${filter}`).get(...params) as { n: number }).n;
    const cursorSeq = query.cursor ? decodeCursor(query.cursor) : undefined;
    // A cursor that does not decode used to give page one silently: say so instead (#14).
    if (query.cursor && cursorSeq === undefined) throw invalidCursor(query.cursor);
    const pageWhere = [...where];
    const pageParams = [...params];
    if (cursorSeq !== undefined) {
      pageWhere.push('seq < ?');
      pageParams.push(cursorSeq);
    }
    const pageFilter = pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : '';
    const rows = this.sql(`SELECT * FROM jobs ${pageFilter} ORDER BY seq DESC LIMIT ?`).all(
      ...pageParams,
      limit + 1,
    ) as JobRow[];
    const more = rows.length > limit;
    const page = rows.slice(0, limit).map(fromRow);
    return { jobs: page, total, next_cursor: more ? encodeCursor(page[page.length - 1].seq) : null };
  }

  async counts(): Promise<Record<JobStatus, number>> {
    this.settleAll();
    const out = Object.fromEntries(ALL_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const r of this.stmts.counts.all()) out[r.status] = r.n;
    return out;
  }

  async pending(limit: number, after?: { priority: number; seq: number }): Promise<JobRecord[]> {
    this.settleAll();
    const rows = after
      ? this.stmts.pendingAfter.all({ limit, priority: after.priority, seq: after.seq })
      : this.stmts.pending.all(limit);
    return rows.map(fromRow);
  }

  async requeueInterrupted(workerId?: string): Promise<JobRecord[]> {
    const s = this.stmts;
    this.settleAll();
    return this.write((): JobRecord[] => {
      const out: JobRecord[] = [];
      for (const row of s.interrupted.all()) {
        if (workerId !== undefined && row.worker_id !== null && row.worker_id !== workerId) continue;
        // A run that started counts as an attempt; one that was only assigned did not run.
        const attempt = row.status === 'running' ? row.attempt + 1 : row.attempt;
        this.sql(
          "UPDATE jobs SET status = 'pending', attempt = ?, worker_id = NULL, not_before = NULL WHERE job_id = ?",
        ).run(attempt, row.job_id);
        s.history.run(row.job_id, row.status, 'pending', Date.now(), attempt);
        const next = s.byId.get(row.job_id);
        if (next) out.push(fromRow(next));
      }
      return out;
    });
  }

  async deleteTerminal(jobId: string): Promise<boolean> {
    return this.write(() => {
      this.deferred.flush(jobId);
      const row = this.stmts.byId.get(jobId);
      if (!row || !TERMINAL_STATUSES.includes(row.status as TerminalStatus)) return false;
      this.forget(jobId);
      return true;
    });
  }

  /** Deletes every row of one job (inside a write). */
  private forget(id: string): void {
    this.sql('DELETE FROM events WHERE job_id = ?').run(id);
    this.sql('DELETE FROM results WHERE job_id = ?').run(id);
    this.sql('DELETE FROM status_history WHERE job_id = ?').run(id);
    this.sql('DELETE FROM idempotency_keys WHERE job_id = ?').run(id);
    this.sql('DELETE FROM jobs WHERE job_id = ?').run(id);
  }

  async purgeTerminal(olderThan: number): Promise<number> {
    // Batches until none is left: one batch of 1000 per sweep fell behind any steady rate above
    // 1000 jobs per sweep interval, and the file grew without bound. Each batch is its own short
    // commit, with a turn of the event loop in between, so requests are served meanwhile.
    let total = 0;
    for (;;) {
      this.settleAll();
      const ids = this.stmts.expired.all(olderThan).map((r) => r.job_id);
      if (ids.length === 0) return total;
      await this.write(() => {
        for (const id of ids) this.forget(id);
      });
      total += ids.length;
      if (ids.length < PURGE_BATCH) return total;
      await new Promise((r) => setImmediate(r));
    }
  }

  async ping(): Promise<void> {
    this.stmts.ping.get();
    const err = this.checkpointer?.error;
    if (err) throw new Error(`WAL checkpoints failing: ${err}`);
  }
}

/** The caller's record moved to `to` with `patch`, and what the store knows better (attempt, progress). */
function withPatch(
  current: JobRecord,
  to: JobStatus,
  patch: TransitionPatch,
  state: TransitionState,
): JobRecord {
  const next: JobRecord = { ...current, status: to, attempt: state.attempt };
  for (const [k, v] of Object.entries(patch) as [keyof TransitionPatch, unknown][]) {
    if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
  }
  if (patch.progress === undefined) next.progress = state.progress;
  return next;
}

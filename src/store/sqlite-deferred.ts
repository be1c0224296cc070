// Writes a crash may lose without harm (`durable: false`: assigned, running, progress events) are
// not run as statements when they are made. They are kept per job and written together with the
// job's next durable write, or at the group commit at the latest, whichever comes first: an echo
// job's assigned, running, two progress events and completed become one UPDATE of the row, one
// INSERT of its history rows, one INSERT of its events and the result, instead of five UPDATEs,
// four history INSERTs, two event INSERTs, two progress UPDATEs and a savepoint around each.
//
// The compare-and-set stays exact: a deferred transition checks the status the job has after its
// own earlier deferred writes (or, for the first one, the row's status, read once), and every
// other access to a job (reads included) writes its deferred state first, so nothing can see or
// change the row behind it. All of it happens on this connection, inside the open batch
// transaction; a job's deferred writes are applied in one savepoint.
import type Database from 'better-sqlite3';
import type { JobStatus, ProgressEvent } from '../protocol/schema.js';
import type { JobProgress } from '../worker/types.js';
import type { TransitionPatch } from './types.js';

interface Step {
  from: JobStatus;
  to: JobStatus;
  at: number;
  attempt: number;
}

interface Deferred {
  /** The row's status when the first transition was deferred; undefined while only events are. */
  base: JobStatus | undefined;
  /** The status after the deferred transitions (undefined: not known yet). */
  status: JobStatus | undefined;
  attempt: number;
  /** The job's progress as the deferred writes leave it (undefined: not known yet). */
  progress: JobProgress | null | undefined;
  /** Column → value as stored, in the order first set. */
  sets: Map<string, unknown>;
  history: Step[];
  events: { sequence: number; body: string }[];
  maxSequence: number;
}

/** What a deferred (or merged) transition leaves: the fields a caller's record cannot know. */
export interface TransitionState {
  attempt: number;
  progress: JobProgress | null;
}

interface RowState {
  status: JobStatus;
  attempt: number;
  progress: string | null;
}

/** Rows per multi-row INSERT (statements are cached per row count up to this). */
const CHUNK = 32;

const parseProgress = (text: string | null): JobProgress | null =>
  text === null ? null : (JSON.parse(text) as JobProgress);

const stored = (k: string, v: unknown): unknown =>
  (k === 'error' || k === 'progress') && v !== null ? JSON.stringify(v) : v;

export class DeferredWrites {
  private readonly jobs = new Map<string, Deferred>();
  private readonly stateOf: Database.Statement<[string], RowState>;
  /** Multi-row INSERT statements by target, indexed by row count. */
  private readonly inserts = new Map<string, Database.Statement[]>();

  constructor(
    db: Database.Database,
    /** Prepared once per distinct SQL text (the caller's cache). */
    private readonly sql: (text: string) => Database.Statement,
    private readonly eventsPerJob: number,
  ) {
    this.stateOf = db.prepare<[string], RowState>(
      'SELECT status, attempt, progress FROM jobs WHERE job_id = ?',
    );
  }

  get size(): number {
    return this.jobs.size;
  }

  has(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  /**
   * Records a transition if the job is in one of `from` (counting its deferred ones); undefined
   * when it is not (or the job does not exist). Nothing is written yet.
   */
  transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    patch: TransitionPatch,
  ): TransitionState | undefined {
    let d = this.jobs.get(jobId);
    if (d?.status === undefined) {
      const row = this.stateOf.get(jobId);
      if (!row) return undefined;
      d ??= this.entry(jobId);
      d.base = d.status = row.status;
      d.attempt = row.attempt;
      // Progress set by deferred events is newer than the row's.
      if (d.progress === undefined) d.progress = parseProgress(row.progress);
    }
    const prior = d.status;
    if (prior === undefined || !from.includes(prior)) return undefined;
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      d.sets.delete(k); // keeps the column order of the latest write (fewer distinct statements)
      d.sets.set(k, stored(k, v));
    }
    if (patch.attempt !== undefined) d.attempt = patch.attempt;
    if (patch.progress !== undefined) d.progress = patch.progress;
    d.history.push({ from: prior, to, at: Date.now(), attempt: d.attempt });
    d.status = to;
    return { attempt: d.attempt, progress: d.progress ?? null };
  }

  /** Records a progress event and the job's latest progress. */
  event(event: ProgressEvent, progress: JobProgress): void {
    const d = this.jobs.get(event.job_id) ?? this.entry(event.job_id);
    d.events.push({ sequence: event.sequence, body: JSON.stringify(event) });
    if (event.sequence > d.maxSequence) d.maxSequence = event.sequence;
    d.progress = progress;
    d.sets.delete('progress');
    d.sets.set('progress', JSON.stringify(progress));
  }

  private entry(jobId: string): Deferred {
    const d: Deferred = {
      base: undefined,
      status: undefined,
      attempt: 0,
      progress: undefined,
      sets: new Map(),
      history: [],
      events: [],
      maxSequence: -1,
    };
    this.jobs.set(jobId, d);
    return d;
  }

  /** Job ids with deferred writes, oldest first. */
  ids(): string[] {
    return [...this.jobs.keys()];
  }

  /**
   * Writes the job's deferred state (run it inside a savepoint). False when the row was no longer
   * in the status the deferred transitions started from (then none of them is written).
   */
  flush(jobId: string): boolean {
    const d = this.jobs.get(jobId);
    if (!d) return true;
    this.jobs.delete(jobId);
    let moved = true;
    if (d.base !== undefined && d.status !== undefined && d.history.length > 0) {
      const params: Record<string, unknown> = { job_id: jobId, base: d.base, status: d.status };
      const sets = ['status = @status'];
      for (const [k, v] of d.sets) {
        sets.push(`${k} = @${k}`);
        params[k] = v;
      }
      // Column names come from TransitionPatch keys only.
      moved =
        this.sql(`UPDATE jobs SET ${sets.join(', ')} WHERE job_id = @job_id AND status = @base`).run(params)
          .changes === 1;
      if (moved) {
        const rows = d.history.map((h) => [jobId, h.from, h.to, h.at, h.attempt]);
        this.insertRows('INSERT INTO status_history (job_id, from_status, to_status, at, attempt)', 5, rows);
      }
    }
    // Events stand on their own (as when each was written at once), and so does their progress.
    if ((!moved || d.history.length === 0) && d.events.length > 0 && d.sets.has('progress')) {
      this.sql('UPDATE jobs SET progress = ? WHERE job_id = ?').run(d.sets.get('progress'), jobId);
    }
    if (d.events.length > 0) {
      const rows = d.events.map((e) => [jobId, e.sequence, e.body]);
      this.insertRows('INSERT OR REPLACE INTO events (job_id, sequence, body)', 3, rows);
      if (d.maxSequence >= this.eventsPerJob) {
        this.sql('DELETE FROM events WHERE job_id = ? AND sequence <= ?').run(
          jobId,
          d.maxSequence - this.eventsPerJob,
        );
      }
    }
    return moved;
  }

  /** Forgets everything deferred (the connection is closing after a failure). */
  clear(): void {
    this.jobs.clear();
  }

  private insertRows(into: string, width: number, rows: unknown[][]): void {
    let byCount = this.inserts.get(into);
    if (!byCount) this.inserts.set(into, (byCount = []));
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.length <= CHUNK ? rows : rows.slice(i, i + CHUNK);
      let stmt = byCount[chunk.length];
      if (!stmt) {
        const one = `(${Array.from({ length: width }, () => '?').join(', ')})`;
        stmt = byCount[chunk.length] = this.sql(`${into} VALUES ${Array.from(chunk, () => one).join(', ')}`);
      }
      stmt.run(chunk.flat());
    }
  }
}

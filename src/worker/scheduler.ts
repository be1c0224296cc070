// Local scheduling: which pending job starts next (priority high first, then submission order)
// and how many run at once. Knows only queue entries; running a job is the executor's business.

export interface QueueEntry {
  job_id: string;
  priority: number;
  /** Submission order. */
  seq: number;
  /** Epoch ms before which the job must not start (retry backoff), or null. */
  not_before: number | null;
}

/** Binary max-heap on (priority desc, seq asc). */
class EntryHeap {
  private items: QueueEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  private before(a: QueueEntry, b: QueueEntry): boolean {
    return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
  }

  push(e: QueueEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop(): QueueEntry | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as QueueEntry;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items = [];
  }
}

export interface SchedulerOptions {
  maxConcurrent: number;
  /** Runs one job; the slot is free again when the promise settles (it must not reject). */
  run(entry: QueueEntry): Promise<void>;
  /** Called whenever depth or active changes. */
  onChange?(depth: number, active: number): void;
}

export class LocalScheduler {
  private readonly heap = new EntryHeap();
  /** Every queued job id (in the heap or waiting for its backoff), for O(1) removal and a true depth. */
  private readonly queued = new Map<string, QueueEntry>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private activeCount = 0;
  private paused = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: SchedulerOptions) {}

  get depth(): number {
    return this.queued.size;
  }

  get active(): number {
    return this.activeCount;
  }

  has(jobId: string): boolean {
    return this.queued.has(jobId);
  }

  enqueue(entry: QueueEntry): void {
    if (this.queued.has(entry.job_id)) return;
    this.queued.set(entry.job_id, entry);
    const wait = entry.not_before === null ? 0 : entry.not_before - Date.now();
    if (wait > 0) {
      const t = setTimeout(() => {
        this.delayed.delete(entry.job_id);
        if (!this.queued.has(entry.job_id)) return;
        this.heap.push(entry);
        this.pump();
      }, wait);
      this.delayed.set(entry.job_id, t);
    } else {
      this.heap.push(entry);
    }
    this.changed();
    this.pump();
  }

  /** Drops a queued job (cancelled). Entries left in the heap are skipped when popped. */
  remove(jobId: string): boolean {
    const had = this.queued.delete(jobId);
    const t = this.delayed.get(jobId);
    if (t) {
      clearTimeout(t);
      this.delayed.delete(jobId);
    }
    if (had) this.changed();
    return had;
  }

  /** Stops starting jobs (drain). Running ones continue. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Resolves when nothing runs. */
  idle(): Promise<void> {
    if (this.activeCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets queued jobs (they stay pending in the store) and their backoff timers. */
  clear(): void {
    for (const t of this.delayed.values()) clearTimeout(t);
    this.delayed.clear();
    this.queued.clear();
    this.heap.clear();
    this.changed();
  }

  private changed(): void {
    this.options.onChange?.(this.queued.size, this.activeCount);
  }

  private pump(): void {
    while (!this.paused && this.activeCount < this.options.maxConcurrent) {
      const entry = this.heap.pop();
      if (!entry) return;
      if (this.queued.get(entry.job_id) !== entry) continue; // removed (or re-queued anew) meanwhile
      this.queued.delete(entry.job_id);
      this.activeCount++;
      this.changed();
      const p = this.options.run(entry).finally(() => {
        this.inFlight.delete(p);
        this.activeCount--;
        this.changed();
        if (this.activeCount === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
        this.pump();
      });
      this.inFlight.add(p);
    }
  }
}

/** Delay before attempt `nextAttempt` (2, 3, …): base · 2^(nextAttempt-2), capped. */
export function backoffMs(nextAttempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, nextAttempt - 2));
}

// WAL checkpoints off the JS thread. With synchronous=NORMAL a commit only appends to the WAL;
// the fsyncs happen when the WAL is copied back into the database (a checkpoint). SQLite's
// automatic checkpoint would run inside whichever commit crosses the threshold — on the JS
// thread, for tens to hundreds of milliseconds on a busy disk — so it is disabled on the main
// connection and a worker thread with its own connection checkpoints every `intervalMs`:
//
// - PASSIVE while commits keep coming: it never blocks the writer. But with commits arriving all
//   the time it never catches the last frames, so the log is never reset and the WAL grows without
//   bound (1.3 GB after a minute of 250 jobs/s in the soak).
// - Past `walLimitBytes`, one more PASSIVE pass (it copies what came during the first, so little
//   is left) and then RESTART: it finishes those frames and resets the log, so the writer reuses
//   the file from its start. It holds the writer lock meanwhile (the last frames and an fsync:
//   5–180 ms measured on this VM's disk), and the JS thread's next BEGIN waits (see begin() in
//   sqlite.ts). TRUNCATE, used before, also cut the file to zero inside that pause, and the
//   writer then grew it back block by block.
// - Once commits stop (the WAL unchanged for IDLE_MS), TRUNCATE copies what is left and gives the
//   file's space back. A burst starting right then waits for it, as for a RESTART. The main
//   connection sets no journal_size_limit: the writer would cut the file itself, on the JS
//   thread, at every reset (24–34 ms COMMITs measured).
// - A RESTART that cannot get the lock (busy) leaves the log as it is; ten in a row are reported
//   as an error (health), since the WAL then grows until the writes pause.
//
// The thread opens its connection per checkpoint and closes it after: while a second connection
// stayed open, every BEGIN IMMEDIATE on the main connection took ~100 µs instead of ~5 µs (and a
// few failed with SQLITE_BUSY outright), a quarter of a short job's wall time. An idle worker whose
// WAL is already empty opens nothing.
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

// Plain CommonJS evaluated in the thread, so it runs the same from src/ (tsx) and dist/.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const { walLimitBytes: limit, idleTicks } = workerData;
// The WAL's size and mtime: unchanged means nothing was committed since the last tick.
const walStat = () => {
  try {
    const st = statSync(workerData.path + '-wal');
    return { size: st.size, stamp: st.size + ':' + st.mtimeMs };
  } catch {
    return { size: 0, stamp: '' };
  }
};
let seen = '';
let quiet = 0;
let refused = 0;
let failing = false;
const report = (error) => {
  failing = error !== undefined;
  parentPort.postMessage(failing ? { error } : { ok: true });
};
const checkpoint = (force) => {
  const wal = walStat();
  quiet = wal.stamp === seen ? quiet + 1 : 0;
  // Idle: no commit for idleTicks ticks in a row (a pause between bursts is not idle).
  const idle = quiet >= idleTicks;
  // Nothing committed since the last tick: nothing to do, unless idle with a file to give back.
  if (!force && quiet > 0 && !(idle && wal.size > 0)) return;
  let db;
  try {
    db = new Database(workerData.path);
    db.pragma('busy_timeout = 5000');
    let reset = true;
    if (idle) {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } else {
      const [r] = db.pragma('wal_checkpoint(PASSIVE)');
      if (r && r.log * db.pragma('page_size', { simple: true }) > limit) {
        db.pragma('wal_checkpoint(PASSIVE)');
        // busy = 1: the lock was not had within the busy timeout; the log was not reset.
        reset = db.pragma('wal_checkpoint(RESTART)')[0].busy === 0;
        refused = reset ? 0 : refused + 1;
      }
    }
    if (refused >= 10) {
      report('the WAL could not be reset in ' + refused + ' tries (the writer held the lock): it grows until writes pause');
    } else if (failing && reset) {
      // A success after failures (disk full, then space freed) clears the error health reports.
      report(undefined);
    }
  } catch (err) {
    report(String(err && err.message || err));
  } finally {
    if (db) db.close();
    seen = walStat().stamp;
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (msg) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  checkpoint(true);
  parentPort.close();
});
`;

/** No commit for this long: the WAL is truncated (its file's space given back). */
const IDLE_MS = 1000;

export class WalCheckpointer {
  private readonly worker: Worker;
  private lastError: string | undefined;

  constructor(path: string, intervalMs = 250, walLimitBytes = 64 * 1024 * 1024) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { driver, path, intervalMs, walLimitBytes, idleTicks: Math.ceil(IDLE_MS / intervalMs) },
    });
    this.worker.on(
      'message',
      (m: { error?: string; ok?: boolean }) => (this.lastError = m.ok ? undefined : m.error),
    );
    this.worker.on('error', (err) => (this.lastError = err.message));
    this.worker.unref();
  }

  /** The last checkpoint failure, if any (health checks). */
  get error(): string | undefined {
    return this.lastError;
  }

  async stop(): Promise<void> {
    // Keep the process alive until the thread has finished its last checkpoint.
    this.worker.ref();
    const exited = once(this.worker, 'exit');
    this.worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}

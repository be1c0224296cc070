// WAL checkpoints off the JS thread. With synchronous=NORMAL a commit only appends to the WAL;
// the fsyncs happen when the WAL is copied back into the database (a checkpoint). SQLite's
// automatic checkpoint would run inside whichever commit crosses the threshold — on the JS
// thread, for tens to hundreds of milliseconds on a busy disk — so it is disabled on the main
// connection and a worker thread with its own connection checkpoints (PASSIVE: never blocks
// writers) every `intervalMs`, and TRUNCATE once the WAL passes `walLimitBytes`.
//
// The thread opens its connection per checkpoint and closes it after: while a second connection
// stayed open, every BEGIN IMMEDIATE on the main connection took ~100 µs instead of ~5 µs (and a
// few failed with SQLITE_BUSY outright), a quarter of a short job's wall time. A checkpoint is
// skipped when the WAL has not changed since the last one (an idle worker opens nothing).
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

// Plain CommonJS evaluated in the thread, so it runs the same from src/ (tsx) and dist/.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
// The WAL's size and mtime: unchanged means nothing was committed since the last checkpoint.
const walStamp = () => {
  try {
    const st = statSync(workerData.path + '-wal');
    return st.size + ':' + st.mtimeMs;
  } catch {
    return '';
  }
};
let checkpointed = '';
let failing = false;
const checkpoint = (force) => {
  const stamp = walStamp();
  if (!force && stamp === checkpointed) return;
  let db;
  try {
    db = new Database(workerData.path);
    db.pragma('busy_timeout = 5000');
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // Under a steady write load PASSIVE never catches the last frames, so the WAL is never
    // restarted and grows without bound (1.3 GB in a minute at 250 jobs/s). Past the limit,
    // TRUNCATE: it finishes the few frames PASSIVE left, pausing writers for that long only.
    if (r && r.log * db.pragma('page_size', { simple: true }) > workerData.walLimitBytes) {
      db.pragma('wal_checkpoint(TRUNCATE)');
    }
    checkpointed = stamp;
    // A success after failures (disk full, then space freed) clears the error health reports.
    if (failing) parentPort.postMessage({ ok: true });
    failing = false;
  } catch (err) {
    failing = true;
    parentPort.postMessage({ error: String(err && err.message || err) });
  } finally {
    if (db) db.close();
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

export class WalCheckpointer {
  private readonly worker: Worker;
  private lastError: string | undefined;

  constructor(path: string, intervalMs = 250, walLimitBytes = 64 * 1024 * 1024) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { driver, path, intervalMs, walLimitBytes },
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

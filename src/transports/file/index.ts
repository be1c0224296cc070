// File transport: job documents dropped into --jobs-dir are submitted to the worker; when a job
// ends its result document is written to --results-dir/<job_id>-result.json and the job file moves
// to done/ (completed) or failed/ (+ <name>.reason.txt).
//
// Partial writes are never read. A file is picked up only once its size and mtime have been stable
// for `stabilityMs` (chokidar awaitWriteFinish), and dotfiles and `*.tmp` files are ignored, so the
// safe pattern is: write `.name.json` or `name.json.tmp`, then rename it to `name.json`.
//
// Crash safety: a job's terminal status is committed to the store before its result file is
// written, and the result file before the job file moves. After a crash a job file still in the
// jobs dir is submitted again: the store recognises the same document, so a finished job is only
// acknowledged (result rewritten identically, file moved) and an unfinished one runs to its end.
import { watch, type FSWatcher } from 'chokidar';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../../logger.js';
import { WorkerError } from '../../protocol/errors.js';
import { formatForFile, parseJobText } from '../../protocol/parse.js';
import { isTerminal } from '../../protocol/schema.js';
import type { Worker } from '../../worker/types.js';
import { removeStaleTempFiles, syncDir, writeFileAtomic } from './atomic.js';

export { writeFileAtomic } from './atomic.js';

export interface FileTransportOptions {
  worker: Worker;
  jobsDir: string;
  resultsDir: string;
  logger: Logger;
  /** How long a file must stay unchanged before it is read (ms). Default 200. */
  stabilityMs?: number;
  /** Files read and submitted at once. Default 16. */
  concurrency?: number;
  /** Largest accepted job document. Default 8 MiB. */
  maxFileBytes?: number;
}

/** Job files: `.json`, `.yaml`, `.yml`; never dotfiles or `*.tmp`. */
export function isJobFileName(name: string): boolean {
  return !name.startsWith('.') && !name.endsWith('.tmp') && /\.(json|ya?ml)$/i.test(name);
}

export function resultFileName(jobId: string): string {
  return `${jobId}-result.json`;
}

export class FileTransport {
  private watcher: FSWatcher | undefined;
  /** job_id → job file names waiting for that job to end. */
  private readonly waiting = new Map<string, Set<string>>();
  /** File names being handled (read → submit → finalize), to ignore duplicate events. */
  private readonly handling = new Set<string>();
  private readonly settledWaiters = new Map<string, (() => void)[]>();
  private readonly stabilityMs: number;
  private readonly maxFileBytes: number;
  private slots: number;
  private readonly slotQueue: (() => void)[] = [];
  private readonly onFinished: (e: { job_id: string }) => void;
  private stopped = false;
  /** Handlers and acknowledgements in progress (stop() waits for them). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: FileTransportOptions) {
    this.stabilityMs = options.stabilityMs ?? 200;
    this.maxFileBytes = options.maxFileBytes ?? 8 * 1024 * 1024;
    this.slots = options.concurrency ?? 16;
    // Subscribed before the worker starts, so jobs recovered at start are acknowledged too.
    this.onFinished = (e) => {
      if (this.waiting.has(e.job_id)) this.traced(this.finalize(e.job_id));
    };
    options.worker.on('job:finished', this.onFinished);
  }

  get doneDir(): string {
    return join(this.options.jobsDir, 'done');
  }

  get failedDir(): string {
    return join(this.options.jobsDir, 'failed');
  }

  private async ensureDirs(): Promise<void> {
    for (const d of [this.options.jobsDir, this.doneDir, this.failedDir, this.options.resultsDir]) {
      await mkdir(d, { recursive: true });
    }
    // A crash mid-write leaves a temp file (never a partial result): clean those up.
    for (const d of [this.options.resultsDir, this.failedDir]) {
      const n = await removeStaleTempFiles(d);
      if (n > 0) this.options.logger.info({ dir: d, removed: n }, 'removed temp files of a crashed writer');
    }
  }

  /** Watches the jobs dir (files already there are picked up too). */
  async start(): Promise<void> {
    await this.ensureDirs();
    const { jobsDir } = this.options;
    this.watcher = watch(jobsDir, {
      depth: 0,
      ignoreInitial: false,
      ignored: (path, stats) =>
        path !== jobsDir && (stats?.isDirectory() === true || !isJobFileName(basename(path))),
      awaitWriteFinish: {
        stabilityThreshold: this.stabilityMs,
        pollInterval: Math.min(50, this.stabilityMs),
      },
    });
    this.watcher.on('add', (path) => this.traced(this.handle(basename(path))));
    // A file re-created right after we moved the previous one away can surface as 'change'
    // (chokidar had not yet seen the unlink); once we are done with a name, treat it as new.
    this.watcher.on('change', (path) => this.traced(this.handle(basename(path))));
    this.watcher.on('error', (err) => {
      this.options.logger.error({ err }, 'jobs directory watcher failed');
      this.options.worker.reportTransport('transport:error', { transport: 'file', error: String(err) });
    });
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()));
    this.options.logger.info(
      { jobs_dir: jobsDir, results_dir: this.options.resultsDir },
      'watching jobs directory',
    );
  }

  /**
   * `--once`: handles the job files present now (after they are stable) and resolves when every
   * one of them has been acknowledged (moved to done/ or failed/) — or left in place because the
   * worker stopped taking jobs.
   */
  async processExisting(): Promise<number> {
    await this.ensureDirs();
    const names = (await readdir(this.options.jobsDir, { withFileTypes: true }))
      .filter((d) => d.isFile() && isJobFileName(d.name))
      .map((d) => d.name)
      .sort();
    await Promise.all(names.map(async (name) => this.handle(name, true)));
    return names.length;
  }

  /** Stops picking up new files; jobs already accepted are still acknowledged when they end. */
  async stopWatching(): Promise<void> {
    this.stopped = true;
    await this.watcher?.close();
    this.watcher = undefined;
  }

  /** Call after the worker stopped: waits for pending acknowledgements, then detaches. */
  async stop(): Promise<void> {
    await this.stopWatching();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    this.options.worker.off('job:finished', this.onFinished);
  }

  private traced(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async acquire(): Promise<void> {
    if (this.slots > 0) {
      this.slots--;
      return;
    }
    await new Promise<void>((resolve) => this.slotQueue.push(resolve));
  }

  private release(): void {
    const next = this.slotQueue.shift();
    if (next) next();
    else this.slots++;
  }

  /** Waits until a file of the jobs dir no longer changes (for files not seen through the watcher). */
  private async waitStable(path: string): Promise<void> {
    let prev = await stat(path);
    for (;;) {
      await new Promise((r) => setTimeout(r, this.stabilityMs));
      const cur = await stat(path);
      if (cur.size === prev.size && cur.mtimeMs === prev.mtimeMs) return;
      prev = cur;
    }
  }

  /** Reads, submits and — when `untilSettled` — waits until the file is acknowledged. */
  private async handle(name: string, untilSettled = false): Promise<void> {
    if (this.handling.has(name) || this.stopped) {
      if (untilSettled) await this.settled(name);
      return;
    }
    this.handling.add(name);
    const settledP = untilSettled ? this.settled(name) : undefined;
    const { worker, logger } = this.options;
    const path = join(this.options.jobsDir, name);
    let jobId: string | undefined;
    // Stability waits are only timers and stats: they run for all files at once, outside the slots.
    const stable = untilSettled
      ? this.waitStable(path).then(
          () => undefined,
          (err: unknown) => err,
        )
      : undefined;
    const unstable = await stable;
    await this.acquire();
    try {
      if (unstable) throw unstable;
      // Only a plain file is read: a symlink would let whoever writes the jobs dir read any file
      // the worker can (its first bytes come back in the parse error of failed/<name>.reason.txt),
      // and a FIFO or /dev/zero would block a read slot or fill memory. O_NOFOLLOW closes the
      // window between the check and the read; O_NONBLOCK keeps a FIFO from blocking the open.
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ELOOP') throw err;
          throw new WorkerError(
            'VALIDATION_ERROR',
            `Job file ${name} is a symlink; write job files as plain files`,
          );
        },
      );
      let text: string;
      try {
        const st = await fh.stat();
        if (!st.isFile()) {
          throw new WorkerError(
            'VALIDATION_ERROR',
            `Job file ${name} is not a regular file (a FIFO or device)`,
          );
        }
        if (st.size > this.maxFileBytes) {
          throw new WorkerError(
            'VALIDATION_ERROR',
            `Job file is ${st.size} bytes; the limit is ${this.maxFileBytes}`,
          );
        }
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
      worker.reportTransport('transport:fetch', { transport: 'file' });
      const doc = parseJobText(text, formatForFile(name));
      const id = (doc as { job_id?: unknown } | null)?.job_id;
      if (typeof id === 'string') {
        jobId = id;
        this.track(id, name);
      }
      const res = await worker.submit(doc, { source: 'file', origin: name });
      if (jobId !== undefined && res.job_id !== jobId) {
        // Idempotency key of a completed job: nothing new runs; its result file already exists.
        this.untrack(jobId, name);
        await this.moveFile(name, 'done');
      } else if (isTerminal(res.status)) {
        await this.finalize(res.job_id);
      }
      logger.debug({ file: name, job_id: res.job_id, created: res.created }, 'job file accepted');
    } catch (err) {
      if (jobId !== undefined) this.untrack(jobId, name);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.markSettled(name); // gone before we read it (a stale event): nothing to do
      } else {
        await this.reject(name, err);
      }
    } finally {
      this.release();
    }
    if (settledP) await settledP;
  }

  private track(jobId: string, name: string): void {
    let names = this.waiting.get(jobId);
    if (!names) this.waiting.set(jobId, (names = new Set()));
    names.add(name);
  }

  private untrack(jobId: string, name: string): void {
    const names = this.waiting.get(jobId);
    names?.delete(name);
    if (names && names.size === 0) this.waiting.delete(jobId);
  }

  private settled(name: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.settledWaiters.get(name) ?? [];
      list.push(resolve);
      this.settledWaiters.set(name, list);
    });
  }

  private markSettled(name: string): void {
    this.handling.delete(name);
    const list = this.settledWaiters.get(name);
    this.settledWaiters.delete(name);
    for (const r of list ?? []) r();
  }

  private async reject(name: string, err: unknown): Promise<void> {
    const { worker, logger } = this.options;
    if (err instanceof WorkerError && err.code === 'WORKER_UNAVAILABLE') {
      // Draining: leave the file for the next start.
      this.markSettled(name);
      return;
    }
    const code = err instanceof WorkerError ? err.code : 'INTERNAL_ERROR';
    const message = err instanceof Error ? err.message : String(err);
    worker.reportTransport('transport:error', { transport: 'file', error: `${code}: ${message}` });
    logger.warn({ file: name, code, reason: message }, 'job file rejected');
    try {
      await writeFileAtomic(join(this.failedDir, `${name}.reason.txt`), `${code}: ${message}\n`);
      await this.moveFile(name, 'failed');
    } catch (moveErr) {
      logger.error({ err: moveErr, file: name }, 'could not move a rejected job file');
      this.markSettled(name);
    }
  }

  /** Writes the result document and moves every job file of this job. Idempotent. */
  private async finalize(jobId: string): Promise<void> {
    const names = this.waiting.get(jobId);
    if (!names) return;
    this.waiting.delete(jobId);
    const { worker, logger } = this.options;
    try {
      const result = await worker.result(jobId);
      if (!result) throw new Error(`job ${jobId} has no result document`);
      await writeFileAtomic(
        join(this.options.resultsDir, resultFileName(jobId)),
        `${JSON.stringify(result, null, 2)}\n`,
      );
      for (const name of names) {
        if (result.status === 'completed') {
          await this.moveFile(name, 'done');
        } else {
          const e = result.error;
          await writeFileAtomic(
            join(this.failedDir, `${name}.reason.txt`),
            `${result.status}: ${e ? `${e.code}: ${e.message}` : 'no error recorded'}\n`,
          );
          await this.moveFile(name, 'failed');
        }
      }
    } catch (err) {
      logger.error({ err, job_id: jobId }, 'could not acknowledge a finished job file');
      worker.reportTransport('transport:error', { transport: 'file', error: String(err) });
      for (const name of names) this.markSettled(name);
    }
  }

  private async moveFile(name: string, to: 'done' | 'failed'): Promise<void> {
    const dir = to === 'done' ? this.doneDir : this.failedDir;
    try {
      await rename(join(this.options.jobsDir, name), join(dir, name));
      await syncDir(dir);
    } finally {
      this.markSettled(name);
    }
  }
}

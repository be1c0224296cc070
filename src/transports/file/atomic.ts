// Crash-safe file writes and moves for the file transport.
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes `path` so readers see either nothing or the whole file: temp file, fsync, rename, fsync dir. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

interface DirSync {
  running: Promise<void> | undefined;
  queued: Promise<void> | undefined;
}
const dirSyncs = new Map<string, DirSync>();

/**
 * Makes renames in `dir` durable (fsync of the directory), best effort. Concurrent callers share
 * fsyncs: a caller gets one that starts after its call, so at most one runs and one waits per
 * directory however many files move at once.
 */
export function syncDir(dir: string): Promise<void> {
  let st = dirSyncs.get(dir);
  if (!st) dirSyncs.set(dir, (st = { running: undefined, queued: undefined }));
  const state = st;
  const start = (): Promise<void> => {
    const p = fsyncDir(dir).finally(() => {
      if (state.running === p) state.running = undefined;
    });
    state.running = p;
    return p;
  };
  if (!state.running) return start();
  state.queued ??= state.running.then(() => {
    state.queued = undefined;
    return start();
  });
  return state.queued;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  }
}

const TEMP_NAME = /^\..+\.(\d+)\.\d+\.tmp$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes temp files that writeFileAtomic left behind in `dir` when its process died mid-write
 * (only those whose writer pid is gone). Returns how many were removed.
 */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_NAME.exec(name);
    if (m && !alive(Number(m[1]))) {
      await rm(join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}

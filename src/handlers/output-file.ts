// Writing a job's output image without ever clobbering: work on a hidden temporary name in the
// target's own directory (same filesystem, so publishing is a link/rename), publish only when
// done and verified, and remove the temporary on any failure.
import { randomBytes } from 'node:crypto';
import { access, link, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HandlerError } from '../protocol/errors.js';

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Refuses an existing target with a message saying what to do. */
export async function refuseExisting(path: string, field: string): Promise<void> {
  if (await exists(path)) {
    throw new HandlerError(
      'VALIDATION_ERROR',
      `Target ${path} already exists (${field}); choose a new path or remove the file first — it is never overwritten`,
      { phase: 'validation', details: { path } },
    );
  }
}

/** `<dir>/.<name>.partial-<random>`: hidden, unique, next to the target. */
export function partialName(target: string): string {
  return join(dirname(target), `.${basename(target)}.partial-${randomBytes(6).toString('hex')}`);
}

/**
 * Moves `temp` to `target` only if `target` still does not exist: link() fails with EEXIST
 * atomically, where a check-then-rename would race with another writer.
 */
export async function publishNoClobber(temp: string, target: string, field: string): Promise<void> {
  try {
    await link(temp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') await refuseExisting(target, field);
    // Filesystems without hard links: a rename after a fresh check is the best left.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    await refuseExisting(target, field);
    await rename(temp, target);
    return;
  }
  await unlink(temp);
}

/** Removes a file, ignoring "already gone". */
export async function removeQuietly(path: string | undefined): Promise<void> {
  if (path) await rm(path, { force: true }).catch(() => undefined);
}

/** `<dir>/<stem>.<ext>`, or `<stem>-1.<ext>`, `-2`… — the first name that does not exist. */
export async function freeSibling(dir: string, stem: string, ext: string): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const candidate = join(dir, `${stem}${i === 0 ? '' : `-${i}`}.${ext}`);
    if (!(await exists(candidate))) return candidate;
  }
  throw new HandlerError('EXECUTION_ERROR', `No free file name for ${stem}.${ext} in ${dir}`);
}

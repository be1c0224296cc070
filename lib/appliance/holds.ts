// Jobs hand the pool the images they checked as their own descriptors (`/proc/<pid>/fd/N`), so
// that qemu opens exactly the checked file. A job may leave while its appliance is launching
// (cancel, timeout, a checksum mismatch) and close those descriptors before qemu has opened
// them: the launch its neighbours share would fail ("No such file"), or, worse, qemu would open
// whatever file reused the number. The pool therefore re-opens each descriptor drive for the
// launch (same open file, its own number) and closes it once qemu holds the files.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { descriptorPath, isDescriptorPath } from '../image/descriptor.js';
import type { ProbedDrive } from './types.js';

/** The pool's own descriptors on a launch's drives, by the path the job gave. */
export class DriveHolds {
  readonly #held = new Map<string, FileHandle>();
  readonly #failed = new Map<string, Error>();

  /**
   * Re-opens every descriptor drive among `drives` (the others pass through unchanged). A drive
   * whose job already closed it fails here; the caller asks {@link failure} and decides whether
   * that matters (it does not for a job that left meanwhile). Never rejects.
   */
  async take(drives: readonly ProbedDrive[]): Promise<void> {
    const wanted = new Map<string, boolean>();
    for (const d of drives) {
      if (isDescriptorPath(d.path) && !this.#held.has(d.path)) {
        wanted.set(d.path, (wanted.get(d.path) ?? true) && d.readonly);
      }
    }
    await Promise.all(
      [...wanted].map(async ([path, readonly]) => {
        try {
          // The job's own access mode. O_NONBLOCK: if the number was reused by a FIFO meanwhile,
          // the open must not wait for a writer (the job left then; its drive is not attached).
          const h = await open(
            path,
            (readonly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NONBLOCK,
          );
          const st = await h.stat().catch(() => undefined);
          if (st?.isFile() || st?.isBlockDevice()) this.#held.set(path, h);
          else {
            await h.close().catch(() => undefined);
            this.#failed.set(path, new Error(`${path} is no longer a disk image`));
          }
        } catch (err) {
          this.#failed.set(path, err as Error);
        }
      }),
    );
  }

  /** The error that kept one of `drives` from being held, if any. */
  failure(drives: readonly ProbedDrive[]): Error | undefined {
    for (const d of drives) {
      const err = this.#failed.get(d.path);
      if (err) return err;
    }
    return undefined;
  }

  /** The path qemu should open for `path`: the pool's descriptor when it holds one. */
  path(path: string): string {
    const h = this.#held.get(path);
    return h ? descriptorPath(h.fd) : path;
  }

  /** `message` (from qemu or libguestfs) with the pool's paths named as the jobs gave them. */
  explain(message: string): string {
    const byFd = new Map([...this.#held].map(([path, h]) => [String(h.fd), path]));
    return message.replace(
      new RegExp(`/proc/${process.pid}/fd/(\\d+)`, 'g'),
      (whole, fd: string) => byFd.get(fd) ?? whole,
    );
  }

  /** Closes the pool's descriptors (qemu has its own by now, or never will). */
  async release(): Promise<void> {
    const handles = [...this.#held.values()];
    this.#held.clear();
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  }
}

/** Whether qemu's `message` names `path` itself (not `/proc/…/fd/3` inside `/proc/…/fd/35`). */
export function namesPath(message: string, path: string): boolean {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${escaped}(?![\\w.-])`).test(message);
}

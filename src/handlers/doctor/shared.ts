// Doctor, migrate-plan and repair's dry run read the same facts of an image whatever the target.
// Jobs on one image that run at the same time share one reading: one drive in one appliance,
// instead of the image attached twice (which the pool must then keep apart as clones). The
// identity is the image's real path, inode, size, mtime and ctime, with the checksum asked for.
import { stat } from 'node:fs/promises';
import { resolveAllowedPath } from '../../worker/paths.js';
import type { ImageSpec } from '../inspect/payload.js';
import type { ReserveContext } from '../types.js';
import type { DoctorFacts } from './facts.js';

const inflight = new Map<string, Promise<DoctorFacts>>();
const reserved = new Map<string, number>();

export async function imageKey(image: ImageSpec, allowedRoots: readonly string[]): Promise<string> {
  const real = await resolveAllowedPath(image.path, allowedRoots, {
    kind: 'file',
    field: 'payload.data.image.path',
  });
  const st = await stat(real);
  return [real, st.ino, st.size, st.mtimeMs, st.ctimeMs, image.format ?? '', image.checksum ?? ''].join('\0');
}

/**
 * `read()` for this image, or the reading another job started and has not finished. A reading
 * that ends in the other job's abort (cancel, timeout) is not ours: then we read ourselves.
 */
export async function sharedFacts(
  key: string,
  signal: AbortSignal,
  read: () => Promise<DoctorFacts>,
): Promise<DoctorFacts> {
  const other = inflight.get(key);
  if (other) {
    try {
      return await other;
    } catch (err) {
      signal.throwIfAborted();
      if (!(err instanceof Error && /abort|cancel|timeout|timed out/i.test(`${err.name} ${err.message}`)))
        throw err;
    }
  }
  const mine = read();
  inflight.set(key, mine);
  try {
    return await mine;
  } finally {
    if (inflight.get(key) === mine) inflight.delete(key);
  }
}

/**
 * Whether this queued job should reserve its drive: only the first queued job of an image does
 * (the others will share its reading); the count drops when a job leaves the queue.
 */
export async function firstReservation(ctx: ReserveContext<{ image: ImageSpec }>): Promise<boolean> {
  let key: string;
  try {
    key = await imageKey(ctx.data.image, ctx.config.allowedRoots);
  } catch {
    return false;
  }
  const n = reserved.get(key) ?? 0;
  reserved.set(key, n + 1);
  ctx.signal.addEventListener(
    'abort',
    () => {
      const left = (reserved.get(key) ?? 1) - 1;
      if (left > 0) reserved.set(key, left);
      else reserved.delete(key);
    },
    { once: true },
  );
  return n === 0;
}

// Guest paths as the explorer accepts them: absolute, normalised (no `..` survives, so nothing
// built from them by string concatenation in the appliance can climb out of the guest's root).
import { posix } from 'node:path';
import { ExploreError } from './errors.js';

/** Longest path accepted (Linux PATH_MAX). */
const MAX_PATH = 4096;

/** `path` normalised: absolute, `..` and `.` folded, no trailing slash (but for `/`). */
export function guestPath(path: unknown, field = 'path'): string {
  if (typeof path !== 'string' || path === '' || path.length > MAX_PATH || path.includes('\0')) {
    throw new ExploreError(
      'VALIDATION_ERROR',
      `Invalid ${field}: give an absolute guest path such as /etc (at most ${MAX_PATH} characters, no NUL)`,
    );
  }
  if (!path.startsWith('/')) {
    throw new ExploreError('VALIDATION_ERROR', `Invalid ${field} '${path}': guest paths start with /`);
  }
  const n = posix.normalize(path);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** `name` inside directory `dir`. */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Splits an absolute glob (`/var/log/*.log`) into the directory to walk (`/var/log`) and the
 * pattern under it (`*.log`), for the CLI's `--find`.
 */
export function splitGlob(pattern: string): { path: string; glob: string } {
  const parts = guestPath(pattern, 'glob').split('/');
  const first = parts.findIndex((p) => GLOB_CHARS.test(p));
  if (first === -1) return { path: posix.dirname(pattern), glob: posix.basename(pattern) };
  return { path: parts.slice(0, first).join('/') || '/', glob: parts.slice(first).join('/') };
}

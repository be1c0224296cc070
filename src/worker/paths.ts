// Path security for handlers (protocol §7): every image/output path must resolve — after
// symlinks — inside an allowed root (also resolved), so `..` tricks and symlink escapes fail.
import { readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { WorkerError } from '../protocol/errors.js';

export type PathKind = 'file' | 'dir' | 'target';

export interface ResolvePathOptions {
  /** Missing path → IMAGE_NOT_FOUND (default true for 'file'/'dir', false for 'target'). */
  mustExist?: boolean;
  /**
   * 'file': a regular file (an image; devices, FIFOs and directories are refused).
   * 'dir': a directory. 'target': a file to be created/written — its parent must exist and be
   * allowed, the file itself may not exist yet (and if it does, it must be a regular file).
   */
  kind?: PathKind;
  /** Field name for messages, e.g. `payload.data.image.path`. */
  field?: string;
}

function inside(child: string, root: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    try {
      out.push(await realpath(resolve(r)));
    } catch {
      // A root that does not exist cannot contain anything.
    }
  }
  return out;
}

function notAllowed(path: string, roots: readonly string[]): WorkerError {
  return new WorkerError(
    'PATH_NOT_ALLOWED',
    `Path ${path} is outside the allowed roots (${roots.join(', ') || 'none configured'}); ` +
      'move it under an allowed root or add one with --allowed-roots',
    { phase: 'validation', details: { path, allowed_roots: [...roots] } },
  );
}

function notFound(path: string): WorkerError {
  return new WorkerError('IMAGE_NOT_FOUND', `Image not found: ${path}`, {
    phase: 'validation',
    details: { path },
  });
}

/**
 * Resolves `path` (relative paths against the process cwd) to its real location and checks it
 * lies inside one of `allowedRoots`. Returns the real path. Never follows a path out of the roots.
 */
export async function resolveAllowedPath(
  path: string,
  allowedRoots: readonly string[],
  options: ResolvePathOptions = {},
): Promise<string> {
  const kind = options.kind ?? 'file';
  const mustExist = options.mustExist ?? kind !== 'target';
  const field = options.field ?? 'path';
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0')) {
    throw new WorkerError('VALIDATION_ERROR', `Invalid field value: ${field} - must be a non-empty path`, {
      phase: 'validation',
    });
  }
  const roots = await realRoots(allowedRoots);
  const absolute = resolve(path);

  let real: string;
  try {
    real = await realpath(absolute);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw notAllowed(path, allowedRoots);
    if (mustExist) {
      // Do not reveal whether paths outside the roots exist: check the parent first.
      const parent = await realpath(dirname(absolute)).catch(() => undefined);
      if (parent !== undefined && !roots.some((r) => inside(parent, r))) throw notAllowed(path, allowedRoots);
      throw notFound(path);
    }
    // A dangling symlink "does not exist" for realpath, but writing through it creates its
    // target, wherever that is: judge the link's destination instead of its name.
    const link = await readlink(absolute).catch(() => undefined);
    if (link !== undefined) {
      const base = await realpath(dirname(absolute)).catch(() => dirname(absolute));
      const dest = resolve(base, link);
      const destParent = await realpath(dirname(dest)).catch(() => undefined);
      if (destParent === undefined || !roots.some((r) => inside(join(destParent, basename(dest)), r)))
        throw notAllowed(path, allowedRoots);
      throw new WorkerError('VALIDATION_ERROR', `${path} is a dangling symlink; give a plain file path`, {
        phase: 'validation',
        details: { path, link },
      });
    }
    // A target that does not exist yet: its (real) parent decides.
    let parent: string;
    try {
      parent = await realpath(dirname(absolute));
    } catch {
      throw new WorkerError('VALIDATION_ERROR', `Parent directory of ${path} does not exist`, {
        phase: 'validation',
        details: { path },
      });
    }
    real = join(parent, basename(absolute));
  }
  if (!roots.some((r) => inside(real, r))) throw notAllowed(path, allowedRoots);

  const st = await stat(real).catch(() => undefined);
  if (st) {
    if (kind === 'dir' && !st.isDirectory()) {
      throw new WorkerError('VALIDATION_ERROR', `${path} is not a directory`, { phase: 'validation' });
    }
    if ((kind === 'file' || kind === 'target') && !st.isFile()) {
      const what = st.isDirectory()
        ? 'a directory'
        : st.isFIFO()
          ? 'a FIFO'
          : st.isBlockDevice() || st.isCharacterDevice()
            ? 'a device'
            : st.isSocket()
              ? 'a socket'
              : 'not a regular file';
      throw new WorkerError('VALIDATION_ERROR', `${path} is ${what}; a regular file is required`, {
        phase: 'validation',
        details: { path },
      });
    }
  }
  return real;
}

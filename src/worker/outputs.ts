// One rule for every output a job names (output.destination, log_path, fixed_image, backup_path,
// convert targets): inside the allowed roots, never in the worker's own state, jobs or results
// folders, never over an existing file, and written so that the folder checked is the folder
// written. A path checked at the start of a job is written minutes later; by then its folder may
// have been swapped for a symlink. So at write time we open the folder (an fd pins it), judge what
// the fd really is (/proc/self/fd/N), and reach every name through that fd: a folder swapped after
// the open is never followed. The temporary is created O_EXCL|O_NOFOLLOW and handed to qemu-img
// by its own fd (/proc/<pid>/fd/T reopens that inode, whatever the name now points to); link()
// publishes it and never clobbers.
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { partialName, publishNoClobber, refuseExisting, removeQuietly } from '../handlers/output-file.js';
import { descriptorPath, realRoots } from '../../lib/image/index.js';
import { WorkerError } from '../protocol/errors.js';
import { resolveAllowedPath } from './paths.js';

/** What the output rule needs of the worker's configuration. */
export interface OutputConfig {
  allowedRoots: readonly string[];
  stateDir?: string;
  jobsDir?: string;
  resultsDir?: string;
}

function inside(child: string, root: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

function asConfig(config: OutputConfig | readonly string[]): OutputConfig {
  return Array.isArray(config) ? { allowedRoots: config } : (config as OutputConfig);
}

/** The worker's own folders: no output may land in one (a forged result, a clobbered store). */
async function refuseWorkerFolders(
  real: string,
  path: string,
  c: OutputConfig,
  field: string,
): Promise<void> {
  for (const [name, dir] of [
    ['state', c.stateDir],
    ['jobs', c.jobsDir],
    ['results', c.resultsDir],
  ] as const) {
    if (!dir) continue;
    const realDir = await realpath(dir).catch(() => resolve(dir));
    if (inside(real, realDir)) {
      throw new WorkerError(
        'PATH_NOT_ALLOWED',
        `${field} ${path} is inside the worker's ${name} folder (${dir}); outputs are never written there — ` +
          'choose a path under an allowed root outside the state, jobs and results folders',
        { phase: 'validation', details: { path, folder: name } },
      );
    }
  }
}

/**
 * Checks an output path (see the file comment) and returns its real location. Accepts a bare list
 * of roots for callers without a worker configuration (then only the roots are checked). Used at
 * the start of a job so it fails before minutes of work; {@link openOutput} checks again at write time.
 */
export async function resolveOutputPath(
  path: string,
  config: OutputConfig | readonly string[],
  field: string,
): Promise<string> {
  const c = asConfig(config);
  const real = await resolveAllowedPath(path, c.allowedRoots, { kind: 'target', field });
  await refuseWorkerFolders(real, path, c, field);
  await refuseExisting(real, field);
  return real;
}

/** An output being written: its folder pinned by an fd, a fresh temporary inside it. */
export interface OutputFile {
  /** Where the file appears once published (the real folder the fd pins + the name). */
  readonly path: string;
  /**
   * The temporary by its own fd (`/proc/<pid>/fd/T`): give this to child processes (qemu-img,
   * cp); it reopens the inode created here, whatever happens to names meanwhile.
   */
  readonly temp: string;
  /** The open temporary, for writing from this process. */
  readonly handle: FileHandle;
  /** Links the temporary under its final name (never clobbering); returns its stat. */
  publish(): Promise<Stats>;
  /** Removes the temporary (if not published) and closes the fds. Always call it. */
  close(): Promise<void>;
}

/**
 * Opens the output `path` for writing at write time: pins its folder, checks what the pinned folder
 * really is against the rule, and creates a temporary in it without following any symlink.
 */
export async function openOutput(
  path: string,
  config: OutputConfig | readonly string[],
  field: string,
): Promise<OutputFile> {
  const c = asConfig(config);
  const name = basename(path);
  const dirHandle = await open(dirname(resolve(path)), constants.O_RDONLY | constants.O_DIRECTORY).catch(
    (err: NodeJS.ErrnoException) => {
      throw new WorkerError(
        'VALIDATION_ERROR',
        `${field}: folder of ${path} cannot be opened (${err.code})`,
        {
          phase: 'validation',
          details: { path },
        },
      );
    },
  );
  const dirFd = descriptorPath(dirHandle.fd);
  let handle: FileHandle | undefined;
  let tempName: string | undefined;
  try {
    // What the fd is, not what the name says now: a swapped folder shows its real place here.
    const realDir = await readlink(dirFd);
    const real = resolve(realDir, name);
    // Judged as text: the kernel's name for the fd has no symlink left to follow, and resolving it
    // again would follow whatever the name points to now, not the folder the fd holds.
    const roots = await realRoots(c.allowedRoots);
    if (!realDir.startsWith('/') || !roots.some((r) => inside(real, r))) {
      throw new WorkerError(
        'PATH_NOT_ALLOWED',
        `${field} ${path} now resolves to ${real}, outside the allowed roots (its folder changed after the check); nothing was written`,
        { phase: 'validation', details: { path, real } },
      );
    }
    await refuseWorkerFolders(real, path, c, field);
    // lstat: even a dangling symlink at the name is an existing file (link() would refuse it too).
    if (
      await lstat(`${dirFd}/${name}`).then(
        () => true,
        () => false,
      )
    ) {
      throw new WorkerError(
        'VALIDATION_ERROR',
        `Target ${real} already exists (${field}); choose a new path or remove the file first — it is never overwritten`,
        { phase: 'validation', details: { path: real } },
      );
    }
    tempName = basename(partialName(real));
    handle = await open(
      `${dirFd}/${tempName}`,
      constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
  } catch (err) {
    await dirHandle.close();
    throw err;
  }
  const fh = handle;
  const temp = tempName;
  let published = false;
  return {
    path: resolve(await readlink(dirFd), name),
    temp: descriptorPath(fh.fd),
    handle: fh,
    async publish() {
      await fh.sync();
      const st = await fh.stat();
      // The name must still be our inode: a temporary replaced by a symlink is never published.
      const now = await lstat(`${dirFd}/${temp}`).catch(() => undefined);
      if (!now || now.ino !== st.ino || now.dev !== st.dev) {
        throw new WorkerError(
          'EXECUTION_ERROR',
          `${field}: the temporary for ${path} was replaced; nothing was published`,
          {
            details: { path },
          },
        );
      }
      await publishNoClobber(`${dirFd}/${temp}`, `${dirFd}/${name}`, field);
      published = true;
      return st;
    },
    async close() {
      if (!published) await removeQuietly(`${dirFd}/${temp}`);
      await fh.close().catch(() => undefined);
      await dirHandle.close().catch(() => undefined);
    },
  };
}

/** Writes `data` to a new file at `path` under the output rule (see {@link openOutput}). */
export async function writeOutputFile(
  path: string,
  data: string | Buffer,
  config: OutputConfig | readonly string[],
  field: string,
): Promise<string> {
  const out = await openOutput(path, config, field);
  try {
    await out.handle.writeFile(data);
    await out.publish();
    return out.path;
  } finally {
    await out.close();
  }
}

// Explorer: browse, read, search and download files of a disk image mounted read-only in a
// libguestfs appliance. Every path is normalised, then resolved with the appliance's realpath,
// which runs chrooted into the guest: a guest symlink to /etc/shadow means the guest's file.
// Calls libguestfs makes by string concatenation (ls, lstatnslist, find) only ever get such
// resolved paths, so no guest symlink is followed outside the guest's root.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { ApplianceLease } from '../appliance/types.js';
import { Guestfs, GuestfsError, type GuestfsStatns } from '../guestfs.js';
import { decodeUtf8, entryType, looksBinary, permissionString, trimPartialChar } from './content.js';
import { ExploreError } from './errors.js';
import { checkPattern, LineMatcher } from './grep.js';
import { handleSource, isLease, leaseSource, mountImage, unmountImage } from './mount.js';
import { childPath, guestPath } from './paths.js';
import { loadOwners, type Owners } from './owners.js';
import {
  DEFAULT_EXPLORER_LIMITS,
  type ExploreEntry,
  type ExploreLayout,
  type ExplorerLimits,
  type FindOptions,
  type FindResult,
  type GrepMatch,
  type GrepOptions,
  type GrepResult,
  type Listing,
  type ListOptions,
  type ReadOptions,
  type ReadResult,
} from './types.js';

/** Bytes per pread: well under libguestfs' 4 MiB message limit. */
const CHUNK = 1024 * 1024;
const STAT_BATCH = 1000;

export interface ExplorerOptions {
  /** Which inspected root to mount when the image has several (default: the first). */
  root?: string;
  limits?: Partial<ExplorerLimits>;
}

/** A byte range of a file being downloaded, and its bytes as a stream (pulled chunk by chunk). */
export interface Download {
  path: string;
  /** Size of the whole file. */
  size: number;
  /** First and last byte of the range (inclusive); `end` is -1 for an empty file. */
  start: number;
  end: number;
  stream: Readable;
}

/** Maps libguestfs' errno codes to the explorer's, naming the path. */
function translate(err: unknown, path: string): unknown {
  if (!(err instanceof GuestfsError)) return err;
  switch (err.code) {
    case 'ENOENT':
      return new ExploreError('FILE_NOT_FOUND', `No such file or directory in the guest: ${path}`, {
        cause: err,
      });
    case 'ENOTDIR':
      return new ExploreError('NOT_A_DIRECTORY', `Not a directory in the guest: ${path}`, { cause: err });
    case 'EISDIR':
      return new ExploreError('IS_A_DIRECTORY', `${path} is a directory`, { cause: err });
    case 'ELOOP':
      return new ExploreError('VALIDATION_ERROR', `Too many levels of symbolic links at ${path}`, {
        cause: err,
      });
    case 'ECLOSED':
    case 'EKILLED':
    case 'ENOTLAUNCHED':
      return new ExploreError('EXPLORER_CLOSED', 'The explorer is closed (its appliance is gone)', {
        cause: err,
      });
    default:
      return err;
  }
}

const num = (v: bigint) => Number(v);

/**
 * Files of one disk image, read-only. Open it over a launched {@link Guestfs} handle (all its
 * drives) or an appliance-pool lease (the lease's drives); {@link close} unmounts what it mounted.
 *
 * ```ts
 * await pool.run([{ path: 'disk.qcow2', format: 'qcow2' }], async (lease) => {
 *   const ex = await Explorer.open(lease);
 *   const { entries } = await ex.ls('/etc');
 *   const { text } = await ex.read('/etc/os-release');
 * }, { shareable: false });
 * ```
 */
export class Explorer {
  readonly guestfs: Guestfs;
  readonly layout: ExploreLayout;
  readonly limits: Readonly<ExplorerLimits>;
  #owners: Promise<Owners> | undefined;
  #closed = false;

  private constructor(g: Guestfs, layout: ExploreLayout, limits: ExplorerLimits) {
    this.guestfs = g;
    this.layout = layout;
    this.limits = limits;
  }

  /** Mounts the image's filesystems read-only (see {@link ExploreLayout}) and returns an explorer. */
  static async open(from: Guestfs | ApplianceLease, options: ExplorerOptions = {}): Promise<Explorer> {
    const source = isLease(from) ? leaseSource(from) : handleSource(from);
    const layout = await mountImage(source, options.root);
    return new Explorer(source.guestfs, layout, { ...DEFAULT_EXPLORER_LIMITS, ...options.limits });
  }

  /** Lists a directory (a symlink to one is followed inside the guest), sorted and paged. */
  async ls(path: string, options: ListOptions = {}): Promise<Listing> {
    const p = guestPath(path);
    const offset = options.offset ?? 0;
    const limit = Math.min(options.limit ?? 500, this.limits.maxPageEntries);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1) {
      throw new ExploreError('VALIDATION_ERROR', 'Invalid page: offset must be >= 0 and limit >= 1');
    }
    return this.#call(p, async (g) => {
      const dir = await g.realpath(p);
      let names = await g.ls(dir);
      if (options.hideHidden) names = names.filter((n) => !n.startsWith('.'));
      const sort = options.sort ?? 'name';
      let entries: ExploreEntry[];
      if (sort === 'name') {
        names.sort(byName);
        entries = await this.#entries(p, dir, names.slice(offset, offset + limit));
      } else {
        const all: ExploreEntry[] = [];
        for (let i = 0; i < names.length; i += STAT_BATCH) {
          all.push(...(await this.#entries(p, dir, names.slice(i, i + STAT_BATCH), false)));
        }
        const cmp = {
          size: (a: ExploreEntry, b: ExploreEntry) => b.size - a.size,
          mtime: (a: ExploreEntry, b: ExploreEntry) => b.mtime.localeCompare(a.mtime),
          type: (a: ExploreEntry, b: ExploreEntry) => a.type.localeCompare(b.type),
        }[sort];
        if (!cmp)
          throw new ExploreError(
            'VALIDATION_ERROR',
            `Invalid sort '${String(sort)}': use name, size, mtime or type`,
          );
        all.sort((a, b) => cmp(a, b) || byName(a.name, b.name));
        entries = all.slice(offset, offset + limit);
        await this.#describeLinks(entries);
      }
      return { path: p, entries, total: names.length, offset, limit };
    });
  }

  /** One file as lstat sees it (a symlink described, with its target and what that is). */
  async stat(path: string): Promise<ExploreEntry> {
    const p = guestPath(path);
    return this.#call(p, async (g) => {
      const real = await this.#resolveParent(p);
      const st = await g.lstatns(real);
      const entry = await this.#entry(p, posix.basename(p) || '/', st);
      await this.#describeLinks([entry], real);
      return entry;
    });
  }

  /** A byte range of a regular file (symlinks followed inside the guest), with binary detection. */
  async read(path: string, options: ReadOptions = {}): Promise<ReadResult> {
    const p = guestPath(path);
    const offset = options.offset ?? 0;
    const want = options.length ?? 64 * 1024;
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(want) || want < 0) {
      throw new ExploreError('VALIDATION_ERROR', 'Invalid range: offset and length must be integers >= 0');
    }
    if (want > this.limits.maxReadBytes) {
      throw new ExploreError(
        'VALIDATION_ERROR',
        `Invalid length ${want}: at most ${this.limits.maxReadBytes} bytes a read (download the file instead)`,
      );
    }
    return this.#call(p, async (g) => {
      const { real, size } = await this.#regularFile(p);
      if (offset > size) {
        throw new ExploreError(
          'RANGE_NOT_SATISFIABLE',
          `Offset ${offset} is past the end of ${p} (${size} bytes)`,
          {
            details: { size },
          },
        );
      }
      const length = Math.min(want, size - offset);
      const parts: Buffer[] = [];
      for (let at = offset; at < offset + length;) {
        const chunk = await g.pread(real, Math.min(CHUNK, offset + length - at), at);
        if (chunk.length === 0) break;
        parts.push(chunk);
        at += chunk.length;
      }
      const data = Buffer.concat(parts);
      const binary = looksBinary(skipContinuation(data));
      const text = binary ? undefined : decodeUtf8(trimPartialChar(skipContinuation(data)));
      return {
        path: p,
        offset,
        length: data.length,
        size,
        eof: offset + data.length >= size,
        binary,
        data,
        ...(text === undefined ? {} : { text }),
      };
    });
  }

  /**
   * Streams a regular file (or the inclusive byte range `start`..`end`) chunk by chunk as the
   * consumer reads: memory stays at one chunk whatever the file's size. Errors about the path or
   * range come from this call, before any byte is sent.
   */
  async download(path: string, range: { start?: number; end?: number } = {}): Promise<Download> {
    const p = guestPath(path);
    const { real, size } = await this.#call(p, () => this.#regularFile(p));
    const start = range.start ?? 0;
    const end = Math.min(range.end ?? size - 1, size - 1);
    if (!Number.isSafeInteger(start) || start < 0 || (size > 0 && start > end) || (size === 0 && start > 0)) {
      throw new ExploreError(
        'RANGE_NOT_SATISFIABLE',
        `Range ${start}-${range.end ?? ''} is outside ${p} (${size} bytes)`,
        {
          details: { size },
        },
      );
    }
    const g = this.guestfs;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let at = start; at <= end;) {
        const chunk = await g.pread(real, Math.min(CHUNK, end + 1 - at), at).catch((err: unknown) => {
          throw translate(err, p);
        });
        if (chunk.length === 0) return;
        yield chunk;
        at += chunk.length;
      }
    }
    return {
      path: p,
      size,
      start,
      end,
      stream: Readable.from(chunks(), { objectMode: false, highWaterMark: CHUNK }),
    };
  }

  /**
   * Paths under `path` matching `glob`: a glob with a `/` matches the path relative to `path`
   * (`log/*.gz`, `**\/*.conf`); one without matches names at any depth (`*.log`, as find -name).
   */
  async find(path: string, glob: string, options: FindOptions = {}): Promise<FindResult> {
    const p = guestPath(path);
    if (typeof glob !== 'string' || glob === '' || glob.length > 1000) {
      throw new ExploreError(
        'VALIDATION_ERROR',
        'Invalid glob: give a pattern such as *.log (1 to 1000 characters)',
      );
    }
    const limit = Math.min(options.limit ?? this.limits.maxFindResults, this.limits.maxFindResults);
    const { Minimatch } = await import('minimatch');
    const m = new Minimatch(glob, { dot: true, matchBase: !glob.includes('/') });
    return this.#call(p, async (g) => {
      const dir = await g.realpath(p);
      const matches: string[] = [];
      let truncated = false;
      let scanned = 0;
      for await (const rel of this.#walk(g, dir)) {
        if (++scanned > this.limits.maxFindScanned || matches.length >= limit) {
          truncated = true;
          break;
        }
        if (m.match(rel)) matches.push(childPath(p, rel));
      }
      return { path: p, glob, matches, truncated };
    });
  }

  /**
   * Lines matching the regular expression `pattern` (JavaScript syntax) in the regular files
   * under `path` (or in `path` itself), bounded by the limits' matches, files, bytes and time.
   */
  async grep(path: string, pattern: string, options: GrepOptions = {}): Promise<GrepResult> {
    const p = guestPath(path);
    const ignoreCase = options.ignoreCase ?? false;
    checkPattern(pattern, ignoreCase);
    const maxMatches = Math.min(options.maxMatches ?? this.limits.maxGrepMatches, this.limits.maxGrepMatches);
    const L = this.limits;
    return this.#call(p, async (g) => {
      const out: GrepResult = {
        path: p,
        pattern,
        matches: [],
        filesSearched: 0,
        bytesSearched: 0,
        truncated: false,
      };
      const stop = (why: NonNullable<GrepResult['stoppedBy']>) => {
        out.truncated = true;
        out.stoppedBy = why;
      };
      const matcher = new LineMatcher(pattern, ignoreCase, L.grepTimeMs);
      try {
        const top = await g.realpath(p);
        const st = await g.statns(top);
        const files: AsyncIterable<string> =
          entryType(num(st.st_mode)) === 'directory' ? this.#walk(g, top) : single('');
        for await (const rel of files) {
          if (out.stoppedBy) break;
          const real = rel === '' ? top : childPath(top, rel);
          const shown = rel === '' ? p : childPath(p, rel);
          const lst = await g.lstatns(real).catch(() => undefined);
          if (!lst || entryType(num(lst.st_mode)) !== 'file') continue;
          const size = num(lst.st_size);
          if (size > L.maxGrepFileBytes) continue;
          if (out.filesSearched >= L.maxGrepFiles) {
            stop('files');
            break;
          }
          if (out.bytesSearched + size > L.maxGrepBytes) {
            stop('bytes');
            break;
          }
          out.filesSearched++;
          out.bytesSearched += size;
          const bytes = await readWhole(g, real, size);
          if (looksBinary(bytes)) continue;
          const hits = await matcher.match(bytes, maxMatches - out.matches.length);
          if (hits === 'time') {
            stop('time');
            break;
          }
          out.matches.push(...hits.map(([line, text]): GrepMatch => ({ path: shown, line, text })));
          if (out.matches.length >= maxMatches) stop('matches');
        }
      } finally {
        matcher.close();
      }
      return out;
    });
  }

  /** Checksum of a regular file computed inside the appliance (`sha256` by default; md5, sha1, sha512…). */
  async checksum(path: string, algorithm = 'sha256'): Promise<string> {
    const p = guestPath(path);
    if (!/^(md5|sha1|sha224|sha256|sha384|sha512|crc)$/.test(algorithm)) {
      throw new ExploreError(
        'VALIDATION_ERROR',
        `Invalid checksum algorithm '${algorithm}': use md5, sha1, sha256 or sha512`,
      );
    }
    return this.#call(p, async (g) => g.checksum(algorithm, (await this.#regularFile(p)).real));
  }

  /** Unmounts what {@link open} mounted (the handle or lease stays the caller's). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.guestfs.closed) await unmountImage(this.guestfs, this.layout);
  }

  // -- internals

  async #call<T>(path: string, fn: (g: Guestfs) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ExploreError('EXPLORER_CLOSED', 'The explorer is closed');
    try {
      return await fn(this.guestfs);
    } catch (err) {
      throw translate(err, path);
    }
  }

  /** `p` with its directory resolved inside the guest (the last component not followed). */
  async #resolveParent(p: string): Promise<string> {
    if (p === '/') return '/';
    return childPath(await this.guestfs.realpath(posix.dirname(p)), posix.basename(p));
  }

  /** Resolves `p` inside the guest and checks it is a regular file: never a device node or FIFO. */
  async #regularFile(p: string): Promise<{ real: string; size: number }> {
    const real = await this.guestfs.realpath(p);
    const st = await this.guestfs.lstatns(real);
    const type = entryType(num(st.st_mode));
    if (type === 'directory')
      throw new ExploreError('IS_A_DIRECTORY', `${p} is a directory: list it instead`);
    if (type !== 'file') {
      throw new ExploreError(
        'VALIDATION_ERROR',
        `${p} is a ${type}, not a regular file: only regular files are read`,
      );
    }
    return { real, size: num(st.st_size) };
  }

  /** Relative paths under `dir` (resolved), as find0 lists them, streamed from a private temp file. */
  async *#walk(g: Guestfs, dir: string): AsyncGenerator<string> {
    const tmp = await mkdtemp(join(tmpdir(), 'guestkit-explore-'));
    try {
      const list = join(tmp, 'names');
      await g.find0(dir, list);
      const fh = await open(list, 'r');
      try {
        let rest = Buffer.alloc(0);
        for await (const chunk of fh.createReadStream({ highWaterMark: 256 * 1024 })) {
          let buf = Buffer.concat([rest, chunk as Buffer]);
          for (let nul = buf.indexOf(0); nul !== -1; nul = buf.indexOf(0)) {
            yield relName(buf.subarray(0, nul));
            buf = buf.subarray(nul + 1);
          }
          rest = buf;
        }
        if (rest.length > 0) yield relName(rest);
      } finally {
        await fh.close();
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async #entries(shown: string, real: string, names: string[], links = true): Promise<ExploreEntry[]> {
    if (names.length === 0) return [];
    const stats = await this.guestfs.lstatnslist(real, names);
    const entries = await Promise.all(names.map((n, i) => this.#entry(childPath(shown, n), n, stats[i])));
    if (links) await this.#describeLinks(entries, undefined, real);
    return entries;
  }

  async #entry(path: string, name: string, st: GuestfsStatns): Promise<ExploreEntry> {
    const mode = num(st.st_mode);
    const uid = num(st.st_uid);
    const gid = num(st.st_gid);
    const owners = await (this.#owners ??= loadOwners(this.guestfs, this.layout));
    const user = owners.users.get(uid);
    const group = owners.groups.get(gid);
    return {
      name,
      path,
      type: entryType(mode),
      size: num(st.st_size),
      mode: mode & 0o7777,
      permissions: permissionString(mode),
      uid,
      gid,
      ...(user === undefined ? {} : { user }),
      ...(group === undefined ? {} : { group }),
      mtime: new Date(num(st.st_mtime_sec) * 1000).toISOString(),
    };
  }

  /** Fills target and targetType of the symlinks among `entries` (resolved inside the guest). */
  async #describeLinks(entries: ExploreEntry[], realOfOnly?: string, realDir?: string): Promise<void> {
    const g = this.guestfs;
    for (const e of entries) {
      if (e.type !== 'symlink') continue;
      const real =
        realOfOnly ??
        (realDir !== undefined ? childPath(realDir, e.name) : await this.#resolveParent(e.path));
      e.target = await g.readlink(real);
      e.targetType = await g.statns(real).then(
        (st) => entryType(num(st.st_mode)),
        () => 'unknown' as const,
      );
    }
  }
}

function byName(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

/** A range may start inside a multi-byte character: its continuation bytes are not text errors. */
function skipContinuation(data: Buffer): Buffer {
  let i = 0;
  while (i < 3 && i < data.length && (data[i] & 0xc0) === 0x80) i++;
  return data.subarray(i);
}

/** find0 names entries `/a/b` relative to the directory it walked. */
function relName(raw: Buffer): string {
  return raw.toString('utf8').replace(/^\/+/, '');
}

async function* single(x: string): AsyncGenerator<string> {
  yield x;
}

async function readWhole(g: Guestfs, real: string, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; at < size;) {
    const chunk = await g.pread(real, Math.min(CHUNK, size - at), at);
    if (chunk.length === 0) break;
    parts.push(chunk);
    at += chunk.length;
  }
  return Buffer.concat(parts);
}

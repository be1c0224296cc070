// SHA-256 of files and buffers on Node's bundled OpenSSL, through the native addon.
//
// sha256File runs each hash on its own pair of native threads (reader + hasher), so a multi-GiB
// image neither blocks the event loop nor occupies libuv's four-thread pool that fs and dns share.
// How the bytes are read is a strategy (see Sha256Strategy); `npm run bench -- hash` measures them.
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { hashAddon } from './native.js';

/** Progress of a {@link sha256File} call. */
export interface Sha256Progress {
  /** Bytes hashed so far. */
  bytes: number;
  /** Size of the file when hashing started (0 when unknown, e.g. a pipe). */
  total: number;
}

/**
 * How {@link sha256File} reads a regular file or block device (pipes, character devices and files
 * whose size reads as 0 are always read to EOF):
 * - `auto` (default): a regular file smaller than physical memory is hashed on one thread while
 *   the page cache holds what it reads (pread(2) with RWF_NOWAIT into one buffer that stays in the
 *   core's cache: the fastest and cheapest when warm); at the first read the cache cannot answer at
 *   once, `pread` takes over from there. `direct` for a file larger than physical memory;
 * - `pread`: a reader thread fills reused buffers with pread(2) while the other thread hashes, so
 *   device reads overlap the digest; takes no page faults;
 * - `mmap`: a memory map (MADV_SEQUENTIAL) with a thread faulting pages in ahead; `mmap-huge` adds
 *   MADV_HUGEPAGE; `mmap-populate` maps 16 MiB windows with MAP_POPULATE ahead of the hasher.
 *   No copy, but a page fault per 4 KiB, which virtualised hosts make expensive;
 * - `direct`: pread(2) with O_DIRECT, bypassing the page cache (falls back to `pread` where the
 *   file system refuses O_DIRECT): for images larger than memory, which the cache cannot keep.
 */
export type Sha256Strategy = 'auto' | 'pread' | 'mmap' | 'mmap-populate' | 'mmap-huge' | 'direct';

/** Every {@link Sha256Strategy} (the benchmark measures each). */
export const SHA256_STRATEGIES: readonly Sha256Strategy[] = [
  'auto',
  'pread',
  'mmap',
  'mmap-populate',
  'mmap-huge',
  'direct',
];
// The native addon's numbering (native/sha256/control.h; 1 is its internal read-to-EOF reader).
const STRATEGY_CODES: Record<Sha256Strategy, number> = {
  auto: 0,
  pread: 2,
  mmap: 3,
  'mmap-populate': 4,
  'mmap-huge': 5,
  direct: 6,
};

/** Options of {@link sha256File} and {@link verifyFile}. */
export interface Sha256FileOptions {
  /** Aborts the hash: the promise rejects with an `AbortError` once the native threads have stopped. */
  signal?: AbortSignal;
  /** Called at most 10 times per second while hashing, plus once at the end with `bytes` = the final size. */
  onProgress?: (progress: Sha256Progress) => void;
  /**
   * Bytes per step (64 KiB – 64 MiB, rounded up to 4 KiB): how often abort is checked, and the
   * size of each read buffer. Default 256 KiB (the buffers in flight stay in cache between the
   * read and the digest), 4 MiB for `direct` reads.
   */
  chunkSize?: number;
  /** How the file is read (default `auto`); see {@link Sha256Strategy}. */
  strategy?: Sha256Strategy;
  /** Read buffers in flight, 2–4 (default 3). */
  buffers?: number;
  /**
   * `background` runs the hashing threads at nice 10 and best-effort I/O level 7, so they use the
   * CPU and disk that other work (appliance boots) leaves; `normal` (default) competes equally.
   */
  priority?: 'normal' | 'background';
  /**
   * Called once on success with the reader actually used: `read` for pipes and devices; for `auto`
   * on a regular file, `cached` when the page cache answered every read (one thread), `pread` when
   * the reader pipeline did all or part of it, `direct` for a file larger than memory.
   */
  onStrategy?: (strategy: string) => void;
}

/** Result of {@link verifyFile}. */
export interface VerifyResult {
  /** True when the file's digest equals the expected one. */
  ok: boolean;
  /** The expected digest, normalised to lowercase hex. */
  expected: string;
  /** The file's digest, lowercase hex. */
  actual: string;
}

/**
 * Incremental SHA-256 (a native EVP context). `update` runs on the calling thread: meant for small
 * inputs such as headers or manifests — hash files with {@link sha256File} instead.
 */
export interface Sha256 {
  /** Adds data (strings are hashed as UTF-8). Throws `HASH_FINALIZED` after {@link Sha256.digest}. */
  update(data: string | ArrayBufferView): Sha256;
  /** Finishes the hash and returns it as lowercase hex. Can be called once. */
  digest(): string;
}

/** A checksum string that is not a SHA-256 digest; `code` is `VALIDATION_ERROR`. */
export class ChecksumFormatError extends Error {
  /** Machine-readable error code shared with the job protocol. */
  readonly code = 'VALIDATION_ERROR' as const;
  /** The rejected input, as given. */
  readonly input: unknown;

  constructor(message: string, input: unknown) {
    super(message);
    this.name = 'ChecksumFormatError';
    this.input = input;
  }
}

type HashEvent = (kind: number, a: number | string, b: number | string, c?: number, d?: string) => void;

interface ChecksumAddon {
  Sha256: new () => Sha256;
  hashFile(
    path: string,
    chunkSize: number,
    strategy: number,
    buffers: number,
    background: boolean,
    callback: HashEvent,
  ): object;
  abortHashFile(job: object): void;
}

/** The hashing addon, loaded on first use (importing the library loads no native code). */
const native = (): ChecksumAddon => hashAddon() as unknown as ChecksumAddon;

const EVENT_PROGRESS = 0;
const EVENT_DONE = 1;
const EVENT_FAILED = 2;
// The native side emits progress every 50 ms; JS forwards at most one per 100 ms so jitter in
// delivery can never push the caller above 10 calls per second.
const PROGRESS_INTERVAL_MS = 100;
const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
/** Sent for "no size given": the native side picks by strategy (256 KiB cached reads, 4 MiB O_DIRECT). */
const STRATEGY_DEFAULT_CHUNK = 0;

/** Creates an incremental SHA-256 hasher (see {@link Sha256} for when to use it). */
export function createSha256(): Sha256 {
  return new (native().Sha256)();
}

/**
 * Hashes a whole file (regular file, block device or FIFO) with SHA-256 off the JS thread, on two
 * native threads of its own. Resolves with lowercase hex. A regular file or device is hashed at
 * the size it had when opened (one that shrinks meanwhile rejects with `EIO`), the way
 * `options.strategy` reads it; other inputs are read to EOF, waiting in poll(2) so that an abort
 * settles even when a pipe's writer has stalled or never opened it. Rejects with fs-shaped errors (`code`, `errno`, `syscall`, `path`:
 * `ENOENT`, `EACCES`, `EISDIR`, …) and with an `AbortError` (`code` `ABORT_ERR`, `cause` the
 * signal's reason) when `signal` aborts — after the file is closed and the threads have stopped.
 */
export function sha256File(path: string | URL, options: Sha256FileOptions = {}): Promise<string> {
  const { signal, onProgress } = options;
  let file: string;
  let chunkSize: number;
  let strategy: number;
  let buffers: number;
  try {
    file = toPath(path);
    chunkSize = toChunkSize(options.chunkSize);
    strategy = toStrategy(options.strategy);
    buffers = toBuffers(options.buffers);
    toPriority(options.priority);
  } catch (err) {
    return Promise.reject(err);
  }
  if (signal?.aborted) return Promise.reject(abortError(signal));

  return new Promise<string>((resolve, reject) => {
    let callbackError: unknown;
    let lastProgress = -Infinity;
    const report = (bytes: number, total: number, final: boolean): void => {
      if (!onProgress || callbackError !== undefined) return;
      const now = performance.now();
      if (!final && now - lastProgress < PROGRESS_INTERVAL_MS) return;
      lastProgress = now;
      try {
        onProgress({ bytes, total });
      } catch (err) {
        // A throwing callback ends the hash with its error rather than crashing the process.
        callbackError = err;
        native().abortHashFile(job);
      }
    };
    const onAbort = (): void => native().abortHashFile(job);

    const background = options.priority === 'background';
    const job = native().hashFile(file, chunkSize, strategy, buffers, background, (kind, a, b, c, d) => {
      if (kind === EVENT_PROGRESS) return report(Number(a), Number(b), false);
      signal?.removeEventListener('abort', onAbort);
      if (kind === EVENT_DONE) {
        report(Number(b), Number(c), true);
        if (callbackError === undefined && options.onStrategy) {
          try {
            options.onStrategy(String(d));
          } catch (err) {
            callbackError = err;
          }
        }
      }
      if (callbackError !== undefined) reject(callbackError);
      else if (kind === EVENT_DONE) resolve(String(a));
      else if (kind === EVENT_FAILED) reject(systemError(Number(a), String(b), file));
      else reject(abortError(signal));
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Normalises a checksum: `sha256:<hex>` or bare `<hex>`, case-insensitive, surrounding whitespace
 * ignored → 64 lowercase hex digits. Throws {@link ChecksumFormatError} for anything else, e.g.
 * `Unsupported checksum algorithm: md5. Only 'sha256' is supported.`
 */
export function parseChecksum(value: string): string {
  if (typeof value !== 'string') {
    throw new ChecksumFormatError(
      `Checksum must be a string like "sha256:<64 hex digits>", got ${typeof value}`,
      value,
    );
  }
  let hex = value.trim();
  const colon = hex.indexOf(':');
  if (colon !== -1) {
    const algorithm = hex.slice(0, colon).toLowerCase();
    if (algorithm === '') {
      throw new ChecksumFormatError(
        `Checksum "${clip(value)}" has an empty algorithm; use "sha256:<hex>"`,
        value,
      );
    }
    if (algorithm !== 'sha256') {
      throw new ChecksumFormatError(
        `Unsupported checksum algorithm: ${algorithm}. Only 'sha256' is supported.`,
        value,
      );
    }
    hex = hex.slice(colon + 1);
  }
  if (hex === '') {
    throw new ChecksumFormatError(
      'Checksum is empty: expected "sha256:<64 hex digits>" or 64 hex digits',
      value,
    );
  }
  if (!/^[0-9a-f]*$/i.test(hex)) {
    throw new ChecksumFormatError(
      `Invalid sha256 checksum "${clip(value)}": only hex digits 0-9 and a-f are allowed`,
      value,
    );
  }
  if (hex.length !== 64) {
    throw new ChecksumFormatError(
      `Invalid sha256 checksum "${clip(value)}": expected 64 hex digits, got ${hex.length}`,
      value,
    );
  }
  return hex.toLowerCase();
}

/**
 * Hashes `path` and compares it with `expected` (any form {@link parseChecksum} accepts). The
 * checksum is validated before the file is read, so a malformed one throws without any I/O.
 */
export async function verifyFile(
  path: string | URL,
  expected: string,
  options: Sha256FileOptions = {},
): Promise<VerifyResult> {
  const want = parseChecksum(expected);
  const actual = await sha256File(path, options);
  return { ok: actual === want, expected: want, actual };
}

function toPath(path: string | URL): string {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  if (typeof file !== 'string' || file === '') {
    throw Object.assign(new TypeError('sha256File: path must be a non-empty string or file: URL'), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  // The native side takes a C string: an embedded NUL would silently name another file.
  if (file.includes('\0')) {
    throw Object.assign(
      new TypeError(`sha256File: path must not contain null bytes: ${JSON.stringify(file)}`),
      {
        code: 'ERR_INVALID_ARG_VALUE',
      },
    );
  }
  return file;
}

function toChunkSize(size: number | undefined): number {
  if (size === undefined) return STRATEGY_DEFAULT_CHUNK;
  if (!Number.isInteger(size) || size < MIN_CHUNK || size > MAX_CHUNK) {
    throw Object.assign(
      new RangeError(
        `sha256File: chunkSize must be an integer from ${MIN_CHUNK} to ${MAX_CHUNK}, got ${size}`,
      ),
      { code: 'ERR_OUT_OF_RANGE' },
    );
  }
  return size;
}

function toStrategy(strategy: Sha256Strategy | undefined): number {
  if (strategy === undefined) return STRATEGY_CODES.auto;
  if (!Object.hasOwn(STRATEGY_CODES, strategy)) {
    throw Object.assign(
      new TypeError(
        `sha256File: strategy must be one of ${SHA256_STRATEGIES.join(', ')}, got ${String(strategy)}`,
      ),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
  }
  return STRATEGY_CODES[strategy];
}

function toBuffers(buffers: number | undefined): number {
  if (buffers === undefined) return 3;
  if (!Number.isInteger(buffers) || buffers < 2 || buffers > 4) {
    throw Object.assign(
      new RangeError(`sha256File: buffers must be an integer from 2 to 4, got ${buffers}`),
      { code: 'ERR_OUT_OF_RANGE' },
    );
  }
  return buffers;
}

function toPriority(priority: unknown): void {
  if (priority !== undefined && priority !== 'normal' && priority !== 'background') {
    throw Object.assign(
      new TypeError(`sha256File: priority must be 'normal' or 'background', got ${String(priority)}`),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
  }
}

// Same shape as fs errors: `ENOENT: no such file or directory, open '/x'` with errno < 0.
function systemError(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  const description = getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${syscall} '${path}'`);
  return Object.assign(err, { errno: -errno, code, syscall, path });
}

function abortError(signal: AbortSignal | undefined): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal?.reason }), {
    name: 'AbortError',
    code: 'ABORT_ERR',
  });
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

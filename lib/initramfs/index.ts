// Reading an initramfs the way the kernel unpacks it: every segment (early uncompressed cpio,
// then gzip/zstd/xz/lz4 streams), every archive in each, later files replacing earlier ones.
// What `file` lists is what the booted system's initramfs root holds; libguestfs' initrd_list
// sees only the first archive (dracut's microcode prefix), which is why this exists.
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { parseCpio, parseCpioStream, S_IFDIR, writeCpio, type CpioEntry } from './cpio.js';
import { decodeOnThread, gunzipMember, InitramfsDecodeError } from './decode.js';
import { compressionAt, lz4LegacyEnd, xzEnd, zstdEnd, type Compression } from './segments.js';

export {
  CpioError,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  parseCpio,
  writeCpio,
  type CpioEntry,
} from './cpio.js';
export { InitramfsDecodeError } from './decode.js';
export type { Compression } from './segments.js';

export interface InitramfsSegment {
  /** Byte offset of the segment in the file. */
  offset: number;
  length: number;
  compression: Compression;
  /** cpio members of the segment, in archive order (none when it could not be read). */
  members: CpioEntry[];
  /** Why the segment could not be read (unsupported compression, corrupt data). */
  error?: string;
}

export interface Initramfs {
  segments: InitramfsSegment[];
  /** Path → member, as the unpacked root has it (later segments win). */
  files: Map<string, CpioEntry>;
  /** True when every byte was accounted for: each segment read, nothing unknown left over. */
  complete: boolean;
  /** Bytes after the last segment that are neither padding nor a known segment. */
  trailingBytes: number;
}

export interface ReadInitramfsOptions {
  signal?: AbortSignal;
  /** Refuse streams that decompress to more than this (default 1 GiB). */
  maxUnpackedBytes?: number;
}

const GiB = 1024 ** 3;

/** Reads every segment of an initramfs image held in `data`. Never throws for a bad segment. */
export async function readInitramfs(data: Buffer, options: ReadInitramfsOptions = {}): Promise<Initramfs> {
  const max = options.maxUnpackedBytes ?? GiB;
  const segments: InitramfsSegment[] = [];
  const files = new Map<string, CpioEntry>();
  const take = (entries: CpioEntry[]) => {
    for (const e of entries) files.set(e.path, e);
  };
  let at = 0;
  let trailingBytes = 0;
  while (at < data.length) {
    options.signal?.throwIfAborted();
    if (data[at] === 0) {
      at++;
      continue;
    }
    const compression = compressionAt(data, at);
    if (compression === null) {
      trailingBytes = data.length - at;
      break;
    }
    const segment: InitramfsSegment = { offset: at, length: 0, compression, members: [] };
    segments.push(segment);
    let end = data.length;
    try {
      let cpio: CpioEntry[];
      if (compression === 'none') {
        const archive = parseCpio(data, at);
        end = archive.end;
        cpio = archive.entries;
      } else if (compression === 'gzip') {
        const member = await gunzipMember(data, at, max);
        end = member.end;
        cpio = parseCpioStream(member.data).entries;
      } else if (compression === 'zstd' || compression === 'xz' || compression === 'lz4') {
        end =
          compression === 'zstd'
            ? zstdEnd(data, at)
            : compression === 'xz'
              ? xzEnd(data, at)
              : lz4LegacyEnd(data, at);
        const plain = await decodeOnThread(compression, data.subarray(at, end), max, options.signal);
        cpio = parseCpioStream(plain).entries;
      } else {
        throw new InitramfsDecodeError(`${compression} compression is not read by this worker`);
      }
      take(cpio);
      segment.members = cpio;
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      segment.error = (err as Error).message;
      // Where an unreadable stream ends is unknown: the kernel would stop here too.
      end = data.length;
    }
    segment.length = Math.max(1, end - at);
    at = end;
  }
  return {
    segments,
    files,
    complete: trailingBytes === 0 && segments.length > 0 && segments.every((s) => !s.error),
    trailingBytes,
  };
}

/**
 * A new initramfs: the leading uncompressed segments (early microcode) kept byte for byte, then
 * one gzip stream with the cpio content of every later segment followed by an archive of
 * `extra` (which therefore replaces same-named files). gzip, because every kernel that boots an
 * initramfs can read it (CONFIG_RD_GZIP). Throws when a segment cannot be read.
 */
export async function rebuildInitramfs(
  data: Buffer,
  extra: readonly CpioEntry[],
  options: ReadInitramfsOptions = {},
): Promise<Buffer> {
  const read = await readInitramfs(data, options);
  const broken = read.segments.find((s) => s.error);
  if (broken) throw new InitramfsDecodeError(`segment at byte ${broken.offset}: ${broken.error}`);
  if (read.trailingBytes) {
    throw new InitramfsDecodeError(`${read.trailingBytes} unrecognised bytes after the last segment`);
  }
  let early = 0;
  while (early < read.segments.length && read.segments[early].compression === 'none') early++;
  // Everything from the first compressed segment on, as the kernel would have unpacked it.
  const later = new Map<string, CpioEntry>();
  for (const segment of read.segments.slice(early)) for (const e of segment.members) later.set(e.path, e);
  for (const e of extra) {
    // The kernel creates files without their parents: every directory must come first.
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!later.has(dir))
        later.set(dir, {
          path: dir,
          mode: S_IFDIR | 0o755,
          uid: 0,
          gid: 0,
          mtime: e.mtime,
          data: Buffer.alloc(0),
        });
    }
    later.set(e.path, e);
  }
  // The early archives with the padding after them, byte for byte.
  const keep = data.subarray(0, read.segments[early]?.offset ?? data.length);
  const compressed = await promisify(gzip)(writeCpio([...later.values()]), { level: 6 });
  const pad = (4 - (keep.length % 4)) % 4;
  return Buffer.concat([keep, Buffer.alloc(pad), compressed]);
}

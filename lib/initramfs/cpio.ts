// The cpio "newc" format the Linux kernel unpacks an initramfs from (and its "crc" variant):
// 110-byte ASCII-hex headers, name and data each padded to 4 bytes, ended by TRAILER!!!.
// Several archives may follow each other; later entries replace earlier ones of the same path,
// as the kernel's unpacker does.

/** One member of a cpio archive. `data` is a view into the decompressed buffer. */
export interface CpioEntry {
  /** Path without a leading `./` or `/` (`lib/modules/6.1.0/modules.dep`). */
  path: string;
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Regular files: the content; symlinks: the target; otherwise empty. */
  data: Buffer;
}

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

const HEADER = 110;
const TRAILER = 'TRAILER!!!';
const MAGIC_NEWC = '070701';
const MAGIC_CRC = '070702';

export class CpioError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'CpioError';
  }
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Whether `buf` holds a newc/crc cpio header at `offset`. */
export function isCpioAt(buf: Buffer, offset: number): boolean {
  if (offset + 6 > buf.length) return false;
  const magic = buf.toString('latin1', offset, offset + 6);
  return magic === MAGIC_NEWC || magic === MAGIC_CRC;
}

function hex(buf: Buffer, at: number): number {
  const text = buf.toString('latin1', at, at + 8);
  if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new CpioError(`bad cpio header field '${text}'`, at);
  return parseInt(text, 16);
}

export interface CpioArchive {
  entries: CpioEntry[];
  /** Offset just past the trailer (and its padding): where a following archive may start. */
  end: number;
}

/**
 * Parses one archive starting at `offset`. Throws CpioError on a malformed header; an archive
 * cut short (no trailer before the end) ends where the data ends.
 */
export function parseCpio(buf: Buffer, offset = 0): CpioArchive {
  const entries: CpioEntry[] = [];
  let at = offset;
  while (at < buf.length) {
    if (!isCpioAt(buf, at)) throw new CpioError('expected a cpio newc header', at);
    if (at + HEADER > buf.length) throw new CpioError('truncated cpio header', at);
    const mode = hex(buf, at + 14);
    const uid = hex(buf, at + 22);
    const gid = hex(buf, at + 30);
    const mtime = hex(buf, at + 46);
    const size = hex(buf, at + 54);
    const nameSize = hex(buf, at + 94);
    if (nameSize === 0) throw new CpioError('cpio entry without a name', at);
    const nameStart = at + HEADER;
    const dataStart = pad4(nameStart + nameSize - offset) + offset;
    const dataEnd = dataStart + size;
    if (nameStart + nameSize > buf.length || dataEnd > buf.length) {
      throw new CpioError('cpio entry runs past the end of the archive', at);
    }
    // The name is NUL-terminated inside nameSize.
    const name = buf.toString('utf8', nameStart, nameStart + nameSize - 1);
    at = pad4(dataEnd - offset) + offset;
    if (name === TRAILER) return { entries, end: at };
    entries.push({
      path: name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, ''),
      mode,
      uid,
      gid,
      mtime,
      data: buf.subarray(dataStart, dataEnd),
    });
  }
  return { entries, end: at };
}

/**
 * Every archive in `buf` one after another, NUL padding between them skipped (what the kernel
 * does within one decompressed stream).
 */
export function parseCpioStream(buf: Buffer): CpioArchive {
  const entries: CpioEntry[] = [];
  let at = 0;
  for (;;) {
    while (at < buf.length && buf[at] === 0) at++;
    if (at >= buf.length) break;
    const archive = parseCpio(buf, at);
    entries.push(...archive.entries);
    if (archive.end <= at) break;
    at = archive.end;
  }
  return { entries, end: at };
}

function header(fields: number[], nameSize: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const [ino, mode, uid, gid, nlink, mtime, size] = fields;
  return (
    MAGIC_NEWC +
    [ino, mode, uid, gid, nlink, mtime, size, 0, 0, 0, 0, nameSize, 0]
      .map((n) => (n >>> 0).toString(16).padStart(8, '0'))
      .join('')
  );
}

/** A newc archive of `entries` with its trailer (what the kernel and cpio -i read). */
export function writeCpio(entries: readonly CpioEntry[], firstIno = 1): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    length += b.length;
    const pad = pad4(length) - length;
    if (pad) {
      parts.push(Buffer.alloc(pad));
      length += pad;
    }
  };
  const member = (e: CpioEntry, ino: number) => {
    const name = Buffer.from(`${e.path}\0`, 'utf8');
    const nlink = (e.mode & S_IFMT) === S_IFDIR ? 2 : 1;
    push(
      Buffer.concat([
        Buffer.from(
          header([ino, e.mode, e.uid, e.gid, nlink, e.mtime, e.data.length], name.length),
          'latin1',
        ),
        name,
      ]),
    );
    if (e.data.length) push(e.data);
  };
  entries.forEach((e, i) => member(e, firstIno + i));
  member({ path: TRAILER, mode: 0, uid: 0, gid: 0, mtime: 0, data: Buffer.alloc(0) }, 0);
  return Buffer.concat(parts, length);
}

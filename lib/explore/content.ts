// What bytes are (text or binary) and how modes read (`drwxr-xr-x`).
import type { EntryType } from './types.js';

/** Bytes examined to decide whether a file is binary (as `file`/git look at the start). */
const SNIFF_BYTES = 8192;

/**
 * True when `data` does not look like text: a NUL byte, invalid UTF-8, or more than 10% control
 * characters other than tab, newline, carriage return, form feed and escape. A multi-byte
 * character cut by the end of the range is not held against it.
 */
export function looksBinary(data: Buffer): boolean {
  const head = data.subarray(0, SNIFF_BYTES);
  if (head.includes(0)) return true;
  let control = 0;
  for (const b of head) if (b < 0x20 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 27) control++;
  if (head.length > 0 && control / head.length > 0.1) return true;
  return decodeUtf8(trimPartialChar(head)) === undefined;
}

/** `data` without a trailing incomplete UTF-8 sequence (a range may end mid-character). */
export function trimPartialChar(data: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const b = data[data.length - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? data.subarray(0, data.length - back) : data;
  }
  return data;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding; undefined when the bytes are not UTF-8. */
export function decodeUtf8(data: Buffer): string | undefined {
  try {
    return strict.decode(data);
  } catch {
    return undefined;
  }
}

const S_IFMT = 0o170000;
const TYPES: Record<number, EntryType> = {
  0o100000: 'file',
  0o040000: 'directory',
  0o120000: 'symlink',
  0o020000: 'char',
  0o060000: 'block',
  0o010000: 'fifo',
  0o140000: 'socket',
};
const LETTER: Record<EntryType, string> = {
  file: '-',
  directory: 'd',
  symlink: 'l',
  char: 'c',
  block: 'b',
  fifo: 'p',
  socket: 's',
  unknown: '?',
};

export function entryType(mode: number): EntryType {
  return TYPES[mode & S_IFMT] ?? 'unknown';
}

/** `ls -l` permission string of a full st_mode. */
export function permissionString(mode: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) =>
    (bits & 4 ? 'r' : '-') +
    (bits & 2 ? 'w' : '-') +
    (special ? (bits & 1 ? specialChar : specialChar.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    LETTER[entryType(mode)] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

// How the kernel walks an initramfs file: a sequence of segments, each an uncompressed cpio
// archive (early microcode, firmware) or a compressed stream holding cpio archives, with NUL
// padding between them. This module recognises a segment and finds where a zstd, xz or lz4
// stream ends without decompressing it (frame walks), so the decoder gets exactly one stream.
import { crc32 } from 'node:zlib';
import { isCpioAt } from './cpio.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'lz4' | 'bzip2' | 'lzma' | 'lzo' | 'lz4-frame';

/** Compressions the reader decodes (the kernel also knows bzip2, lzma and lzo: reported, not read). */
export const DECODED_COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zstd', 'xz', 'lz4'];

export interface Segment {
  offset: number;
  /** Bytes of the file this segment spans (its end for the last one may be the file's end). */
  length: number;
  compression: Compression;
}

const MAGICS: [Compression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['gzip', [0x1f, 0x9e]], // old gzip magic, still accepted by the kernel
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]],
  ['lz4-frame', [0x04, 0x22, 0x4d, 0x18]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lzma', [0x5d, 0x00, 0x00]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
];

export function compressionAt(buf: Buffer, offset: number): Compression | null {
  if (isCpioAt(buf, offset)) return 'none';
  for (const [name, magic] of MAGICS) {
    if (magic.every((b, i) => buf[offset + i] === b)) return name;
  }
  return null;
}

/** End of a gzip member's header (RFC 1952), or -1 if malformed. */
export function gzipHeaderLength(buf: Buffer, at: number): number {
  if (at + 10 > buf.length || buf[at + 2] !== 8) return -1;
  const flags = buf[at + 3];
  let p = at + 10;
  if (flags & 4) {
    if (p + 2 > buf.length) return -1;
    p += 2 + buf.readUInt16LE(p);
  }
  for (const bit of [8, 16]) {
    if (flags & bit) {
      const nul = buf.indexOf(0, p);
      if (nul < 0) return -1;
      p = nul + 1;
    }
  }
  if (flags & 2) p += 2;
  return p <= buf.length ? p - at : -1;
}

/** End of the zstd frames (and skippable frames) starting at `at`, by walking block headers. */
export function zstdEnd(buf: Buffer, at: number): number {
  let p = at;
  while (p + 4 <= buf.length) {
    const magic = buf.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // Skippable frame: magic, 4-byte size, payload.
      if (p + 8 > buf.length) break;
      p += 8 + buf.readUInt32LE(p + 4);
      continue;
    }
    if (magic !== 0xfd2fb528) break;
    const fhd = buf[p + 4];
    const singleSegment = (fhd >> 5) & 1;
    const fcsFlag = fhd >> 6;
    const dictIdFlag = fhd & 3;
    const checksum = (fhd >> 2) & 1;
    const fcsSize = fcsFlag === 0 ? singleSegment : [1, 2, 4, 8][fcsFlag];
    p += 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictIdFlag] + fcsSize;
    for (;;) {
      if (p + 3 > buf.length) return buf.length;
      const h = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16);
      const last = h & 1;
      const type = (h >> 1) & 3;
      const size = h >>> 3;
      p += 3 + (type === 1 ? 1 : size);
      if (last) break;
    }
    if (checksum) p += 4;
  }
  return Math.min(p, buf.length);
}

/**
 * End of the xz stream starting at `at`: the first stream footer after it whose CRC32 checks and
 * whose flags equal the header's (a false "YZ" match would need a 32-bit CRC collision too).
 */
export function xzEnd(buf: Buffer, at: number): number {
  if (at + 12 > buf.length) return buf.length;
  const flags = buf.subarray(at + 6, at + 8);
  for (let p = buf.indexOf('YZ', at + 12, 'latin1'); p >= 0; p = buf.indexOf('YZ', p + 1, 'latin1')) {
    const end = p + 2;
    // Streams are multiples of 4 bytes long; the footer is the last 12.
    if ((end - at) % 4 !== 0 || end - 12 < at + 12) continue;
    const footer = buf.subarray(end - 12, end);
    if (footer.readUInt32LE(0) !== crc32(footer.subarray(4, 10))) continue;
    if (footer[8] !== flags[0] || footer[9] !== flags[1]) continue;
    return end;
  }
  return buf.length;
}

/** End of a legacy lz4 stream (kernel `lz4 -l`): 4-byte chunk sizes until the data or a zero ends it. */
export function lz4LegacyEnd(buf: Buffer, at: number): number {
  let p = at + 4;
  while (p + 4 <= buf.length) {
    const size = buf.readUInt32LE(p);
    if (size === 0x184c2102) {
      p += 4; // another legacy header: the stream continues
      continue;
    }
    // The kernel's chunks are at most LZ4_compressBound(8 MiB); zero is padding.
    if (size === 0 || size > 8 * 1024 * 1024 + (8 * 1024 * 1024) / 255 + 16) break;
    p += 4 + size;
  }
  return Math.min(p, buf.length);
}

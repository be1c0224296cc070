// Reading image headers ourselves, before qemu opens anything: which other files an image makes
// qemu open (backing file, qcow2 external data file, VMDK extents and parent). `qemu-img info`
// cannot be asked this safely: it opens data files and extents (and connects to nbd:// names)
// while describing the image.
import type { FileHandle } from 'node:fs/promises';

/** What an image's own header says about it and the files it refers to. */
export interface ImageHeader {
  /**
   * The format its magic says (`raw` when none matched; `qed`, `qcow`, `luks`, `vmdk-cowd`,
   * `vpc` are recognised so they can be refused by name).
   */
  format: string;
  /** Backing file as written in the header (qcow2 backing name, VMDK parentFileNameHint). */
  backing?: { name: string; format?: string };
  /** qcow2 external data file: the name from the header extension ('' when the bit is set without one). */
  dataFile?: string;
  /** VMDK: the files its descriptor names as extents, as written, in descriptor order. */
  extents?: string[];
  /** VMDK text descriptor (a separate descriptor file): the text, for rewriting its extent names. */
  descriptor?: string;
  /** Encrypted (qcow2 crypt_method, LUKS). */
  encrypted: boolean;
  /** Why qemu would refuse this header as damaged (a magic followed by fields no qemu writes). */
  damaged?: string;
}

/** Longest descriptor or header area we read (qemu reads at most 1 MiB of a VMDK descriptor). */
const MAX_DESCRIPTOR = 1024 * 1024;
const QCOW2_DATA_FILE_BIT = 1n << 2n;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441;

async function readAt(file: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await file.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul < 0 ? buf.length : nul).toString('latin1');
}

const damaged = (why: string): ImageHeader => ({ format: 'qcow2', encrypted: false, damaged: why });

async function qcow2Header(file: FileHandle, head: Buffer): Promise<ImageHeader> {
  const version = head.readUInt32BE(4);
  if (version < 2) return { format: 'qcow', encrypted: false };
  const backingOffset = Number(head.readBigUInt64BE(8));
  const backingSize = head.readUInt32BE(16);
  const clusterBits = head.readUInt32BE(20);
  const cryptMethod = head.readUInt32BE(32);
  // qemu's qcow2_open refuses these before reading anything else; so do we, with its reason,
  // rather than reading random fields as an encryption flag or a backing name.
  if (version > 3) return damaged(`qcow2 version ${version} (qemu reads versions 2 and 3)`);
  if (clusterBits < 9 || clusterBits > 21) return damaged(`cluster_bits ${clusterBits} (qemu reads 9 to 21)`);
  if (cryptMethod > 2) return damaged(`encryption method ${cryptMethod} (qemu knows 0 to 2)`);
  if (version >= 3 && (head.readUInt32BE(100) < 104 || head.readUInt32BE(100) % 8 !== 0))
    return damaged(`header length ${head.readUInt32BE(100)}`);
  const encrypted = cryptMethod !== 0;
  const incompatible = version >= 3 ? head.readBigUInt64BE(72) : 0n;
  const headerLength = version >= 3 ? head.readUInt32BE(100) : 72;
  const out: ImageHeader = { format: 'qcow2', encrypted };
  // Header extensions: from the end of the header to the end of the first cluster, 8-aligned.
  const clusterEnd = Math.min(2 ** Math.min(Math.max(clusterBits, 9), 21), MAX_DESCRIPTOR);
  const area = await readAt(file, 0, clusterEnd);
  let backingFormat: string | undefined;
  let dataFileName: string | undefined;
  for (let at = headerLength; at + 8 <= area.length;) {
    const type = area.readUInt32BE(at);
    const len = area.readUInt32BE(at + 4);
    if (type === 0 || at + 8 + len > area.length) break;
    const data = area.subarray(at + 8, at + 8 + len);
    if (type === EXT_BACKING_FORMAT) backingFormat = cString(data);
    if (type === EXT_DATA_FILE) dataFileName = cString(data);
    at += 8 + Math.ceil(len / 8) * 8;
  }
  if (backingOffset !== 0 && backingSize > 0) {
    const name = (await readAt(file, backingOffset, Math.min(backingSize, 4096))).toString('latin1');
    out.backing = backingFormat ? { name, format: backingFormat } : { name };
  }
  // qemu opens a data file only when the incompatible bit says the image has one.
  if (incompatible & QCOW2_DATA_FILE_BIT) out.dataFile = dataFileName ?? '';
  return out;
}

/**
 * Extents and parent of a VMDK descriptor, parsed the way qemu's vmdk driver does: an extent line
 * is `ACCESS SECTORS TYPE "FILE" [OFFSET]`; the parent is whatever follows the first
 * `parentFileNameHint` anywhere in the text (qemu looks for it with strstr, comments included).
 */
export function parseVmdkDescriptor(text: string): { extents: string[]; parent?: string } {
  const extents: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\S+)(?:\s+"([^"\r\n]*)")?/.exec(line);
    if (m && m[3] !== undefined && m[2] !== 'ZERO') extents.push(m[3]);
  }
  const hint = text.indexOf('parentFileNameHint');
  if (hint < 0) return { extents };
  const start = hint + 'parentFileNameHint'.length + 2; // skip `="`, as qemu does
  const end = text.indexOf('"', start);
  return end < 0 ? { extents } : { extents, parent: text.slice(start, end) };
}

/** A VMDK text descriptor as qemu probes one: a `version=1|2|3` line among text lines. */
function looksLikeDescriptor(head: Buffer): boolean {
  const text = head.toString('latin1');
  return !text.includes('\0') && /^version=[123]\r?$/m.test(text);
}

async function sparseVmdkHeader(file: FileHandle, head: Buffer): Promise<ImageHeader> {
  const capacity = head.readBigUInt64LE(12);
  const descSectors = Number(head.readBigUInt64LE(28));
  const descSize = Number(head.readBigUInt64LE(36));
  const out: ImageHeader = { format: 'vmdk', encrypted: false };
  // qemu reads the parent hint from the descriptor at sector 1; a header may place it elsewhere.
  const texts = [cString(await readAt(file, 512, 20 * 512))];
  if (descSectors > 0 && descSectors !== 1) {
    const len = Math.min(Math.max(descSize, 1) * 512, MAX_DESCRIPTOR);
    texts.push(cString(await readAt(file, descSectors * 512, len)));
  }
  for (const text of texts) {
    const parent = parseVmdkDescriptor(text).parent;
    if (parent !== undefined && !out.backing) out.backing = { name: parent };
  }
  // Capacity 0 with a descriptor: qemu opens that embedded descriptor's extents, other files.
  if (capacity === 0n && descSectors > 0) {
    const len = Math.min(MAX_DESCRIPTOR, Math.max(descSize, 1) * 512);
    const text = cString(await readAt(file, descSectors * 512, len));
    out.extents = parseVmdkDescriptor(text).extents;
    out.descriptor = text;
  }
  return out;
}

/**
 * Reads the header of an open image. With `declared` = `raw` nothing is parsed (qemu opens a raw
 * image as bytes, whatever they look like).
 */
export async function readImageHeader(file: FileHandle, declared?: string): Promise<ImageHeader> {
  if (declared === 'raw') return { format: 'raw', encrypted: false };
  const head = await readAt(file, 0, 4096);
  const magic = head.subarray(0, 4).toString('latin1');
  if (head.length >= 104 && magic === 'QFI\xfb') return qcow2Header(file, head);
  if (magic === 'QFI\xfb') return { format: 'qcow', encrypted: false };
  if (magic === 'QED\0') return { format: 'qed', encrypted: false };
  if (magic === 'KDMV' && head.length >= 44) return sparseVmdkHeader(file, head);
  if (magic === 'COWD') return { format: 'vmdk-cowd', encrypted: false };
  if (head.subarray(0, 6).equals(Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe])))
    return { format: 'luks', encrypted: true };
  if (head.subarray(0, 8).toString('latin1') === 'vhdxfile') return { format: 'vhdx', encrypted: false };
  if (head.subarray(0, 8).toString('latin1') === 'conectix') return { format: 'vpc', encrypted: false };
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f)
    return { format: 'vdi', encrypted: false };
  if (looksLikeDescriptor(head)) {
    const text = cString(await readAt(file, 0, MAX_DESCRIPTOR));
    const { extents, parent } = parseVmdkDescriptor(text);
    return {
      format: 'vmdk',
      encrypted: false,
      extents,
      descriptor: text,
      ...(parent !== undefined ? { backing: { name: parent } } : {}),
    };
  }
  return { format: 'raw', encrypted: false };
}

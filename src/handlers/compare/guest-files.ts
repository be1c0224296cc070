// Reading file trees of a mounted guest efficiently: one lstat batch per directory (queued back
// to back on the handle's thread), and checksums computed inside the appliance (checksums_out),
// streamed to a host temp file, so no file content crosses into this process unless asked.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Guestfs, GuestfsStatns } from '../../../lib/guestfs.js';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
}

const join2 = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** lstat of every entry below `dir` (absolute guest paths), `dir` itself excluded. */
export async function lstatTree(g: Guestfs, dir: string): Promise<Map<string, FileStat>> {
  const out = new Map<string, FileStat>();
  if (!(await g.isDir(dir))) return out;
  const byDir = new Map<string, string[]>();
  for (const found of await g.find(dir)) {
    // libguestfs 1.48 prefixes names with '/'; the documented form has none: accept both.
    const rel = found.replace(/^\/+/, '');
    if (rel === '') continue;
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? dir : join2(dir, rel.slice(0, slash));
    const name = slash < 0 ? rel : rel.slice(slash + 1);
    const names = byDir.get(parent);
    if (names) names.push(name);
    else byDir.set(parent, [name]);
  }
  const dirs = [...byDir.entries()];
  const stats = await Promise.all(dirs.map(([parent, names]) => g.lstatnslist(parent, names)));
  dirs.forEach(([parent, names], i) => {
    stats[i].forEach((st: GuestfsStatns, j) => {
      // lstatnslist gives -1 fields for a name it could not stat: leave it out.
      if (st.st_ino === -1n) return;
      out.set(join2(parent, names[j]), {
        mode: Number(st.st_mode),
        uid: Number(st.st_uid),
        gid: Number(st.st_gid),
        size: Number(st.st_size),
        mtime: Number(st.st_mtime_sec),
      });
    });
  });
  return out;
}

/** Undoes sha256sum's escaping of names holding a backslash or newline (line starts with `\`). */
function unescapeName(name: string): string {
  return name.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** One `sha256sum` line (of `find -type f` run in `dir`) → [absolute path, hex digest]. */
function parseChecksumLine(line: string, dir: string): [string, string] | null {
  const m = /^(\\?)([0-9a-f]{64}) [ *](.*)$/.exec(line);
  if (!m) return null;
  const name = (m[1] ? unescapeName(m[3]) : m[3]).replace(/^\.\//, '');
  return [join2(dir, name), m[2]];
}

/** Parses `sha256sum` output of `find -type f` run in `dir` into absolute path → hex digest. */
export function parseChecksums(text: string, dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const entry = parseChecksumLine(line, dir);
    if (entry) out.set(...entry);
  }
  return out;
}

/** SHA-256 of every regular file below `dir`, hashed inside the appliance. */
export async function checksumTree(g: Guestfs, dir: string): Promise<Map<string, string>> {
  if (!(await g.isDir(dir))) return new Map();
  const work = await mkdtemp(join(tmpdir(), 'guestkit-sums-'));
  try {
    const file = join(work, 'sums');
    await g.checksumsOut('sha256', dir, file);
    // Line by line from a stream: a whole filesystem's list can be tens of MB, and this way the
    // event loop gets a turn between chunks.
    const out = new Map<string, string>();
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      const entry = parseChecksumLine(line, dir);
      if (entry) out.set(...entry);
    }
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The content of a small guest file as text, or why not: `too_large` above `maxBytes`, `binary`
 * when it holds a NUL byte or is not valid UTF-8.
 */
export async function readSmallText(
  g: Guestfs,
  path: string,
  size: number,
  maxBytes: number,
): Promise<{ text: string } | { omitted: 'binary' | 'too_large' }> {
  if (size > maxBytes) return { omitted: 'too_large' };
  const buf = await g.readFile(path);
  if (buf.length > maxBytes) return { omitted: 'too_large' };
  if (buf.includes(0)) return { omitted: 'binary' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(buf) };
  } catch {
    return { omitted: 'binary' };
  }
}

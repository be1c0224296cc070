// /etc in one round trip: `tar_out` streams the whole directory to a host file, and the section
// collectors read it from memory through a view of the handle. Under TCG each libguestfs call
// costs milliseconds of emulated guest work, and /etc is where nearly every fact lives, so this
// replaces dozens of readFile/ls/exists calls with one.
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestfsError, type Guestfs } from '../../../lib/guestfs.js';
import type { GuestfsStatns } from '../../../lib/generated/actions.js';

export interface TarEntry {
  /** Path inside the guest (`/etc/passwd`). */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  linkTarget: string;
  data: Buffer;
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
}

function octal(block: Buffer, start: number, length: number): number {
  if (block[start] & 0x80) {
    // GNU base-256 for values that do not fit the octal field.
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + block[i];
    return n;
  }
  const text = field(block, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** Parses a (GNU or POSIX) tar archive: long names (`L`/`K`), pax `path`/`linkpath`. */
export function parseTar(tar: Buffer, base: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 48);
    const data = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'K') {
      longLink = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      for (const rec of data.toString('utf8').split('\n')) {
        const m = /^\d+ (path|linkpath)=(.*)$/.exec(rec);
        if (m?.[1] === 'path') longName = m[2];
        if (m?.[1] === 'linkpath') longLink = m[2];
      }
      continue;
    }
    if (type === 'g') continue;
    const prefix = field(header, 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const linkTarget = longLink ?? field(header, 157, 100);
    longName = undefined;
    longLink = undefined;
    name = name.replace(/^\.\/?/, '').replace(/\/$/, '');
    entries.push({
      path: name === '' ? base : `${base}/${name}`,
      type: type === '0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : 'other',
      mode: octal(header, 100, 8),
      uid: octal(header, 108, 8),
      gid: octal(header, 116, 8),
      linkTarget,
      data: type === '0' || type === '7' ? Buffer.from(data) : Buffer.alloc(0),
    });
  }
  return entries;
}

const S_IFMT = { file: 0o100000, dir: 0o040000, symlink: 0o120000, other: 0 } as const;

/** A directory tree of the guest held in memory. */
export class GuestSnapshot {
  readonly entries = new Map<string, TarEntry>();
  readonly children = new Map<string, string[]>();

  constructor(
    readonly base: string,
    entries: TarEntry[],
  ) {
    for (const e of entries) {
      this.entries.set(e.path, e);
      if (e.path === base) continue;
      const parent = e.path.slice(0, e.path.lastIndexOf('/')) || '/';
      const list = this.children.get(parent) ?? [];
      list.push(e.path.slice(parent.length + (parent === '/' ? 0 : 1)));
      this.children.set(parent, list);
    }
  }

  covers(path: string): boolean {
    return path === this.base || path.startsWith(`${this.base}/`);
  }

  /** Follows symlinks while they stay inside the snapshot; undefined when it leaves it. */
  resolve(path: string, depth = 0): TarEntry | null | undefined {
    if (!this.covers(path)) return undefined;
    const e = this.entries.get(path);
    if (!e) return null;
    if (e.type !== 'symlink') return e;
    if (depth > 8) return null;
    const target = e.linkTarget.startsWith('/')
      ? e.linkTarget
      : normalize(`${path.slice(0, path.lastIndexOf('/'))}/${e.linkTarget}`);
    return this.resolve(target, depth + 1);
  }
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

function notFound(action: string, path: string): GuestfsError {
  return new GuestfsError(`${action}: ${path}: No such file or directory`, {
    code: 'ENOENT',
    errno: 2,
    action,
  });
}

/** Copies `dir` of the mounted guest out in one call; null when the guest has no such directory. */
export async function snapshotDir(g: Guestfs, dir: string): Promise<GuestSnapshot | null> {
  const file = join(
    tmpdir(),
    `guestkit-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tar`,
  );
  try {
    await g.tarOut(dir, file, { numericowner: true });
    return new GuestSnapshot(dir, parseTar(await readFile(file), dir));
  } catch {
    return null;
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * The handle, with file reads, listings, link reads and lstat under the snapshot's directory
 * answered from memory; everything else goes to the appliance as before.
 */
export function snapshotView(g: Guestfs, snap: GuestSnapshot | null): Guestfs {
  if (!snap) return g;
  const overrides: Partial<Record<keyof Guestfs, unknown>> = {
    readFile: async (path: string) => {
      const e = snap.resolve(path);
      if (e === undefined) return g.readFile(path);
      if (e === null || e.type !== 'file') throw notFound('read_file', path);
      return e.data;
    },
    ls: async (dir: string) => {
      const e = snap.resolve(dir);
      if (e === undefined) return g.ls(dir);
      if (e === null || e.type !== 'dir') throw notFound('ls', dir);
      return [...(snap.children.get(e.path) ?? [])].sort();
    },
    exists: async (path: string) => {
      const e = snap.resolve(path);
      return e === undefined ? g.exists(path) : e !== null;
    },
    readlinklist: async (dir: string, names: readonly string[]) =>
      snap.covers(dir)
        ? names.map((n) => {
            const e = snap.entries.get(`${dir}/${n}`);
            return e?.type === 'symlink' ? e.linkTarget : '';
          })
        : g.readlinklist(dir, names),
    lstatnslist: async (dir: string, names: readonly string[]) =>
      snap.covers(dir)
        ? names.map((n) => {
            const e = snap.entries.get(`${dir}/${n}`);
            return {
              st_mode: BigInt(e ? S_IFMT[e.type] | (e.mode & 0o7777) : 0),
              st_uid: BigInt(e?.uid ?? 0),
              st_gid: BigInt(e?.gid ?? 0),
              st_size: BigInt(e?.data.length ?? 0),
            } as GuestfsStatns;
          })
        : g.lstatnslist(dir, names),
  };
  return new Proxy(g, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof Guestfs];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

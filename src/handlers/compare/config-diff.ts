// File-tree comparison of two guests (/etc for compare_config, / for compare_files): content by
// SHA-256, permissions/ownership (and mtime unless ignore_timestamps) by lstat, and `diff -u` text
// for small changed text files.
import type { Guestfs } from '../../../lib/guestfs.js';
import { checksumTree, lstatTree, readSmallText, S_IFMT, type FileStat } from './guest-files.js';
import type { ConfigFileChange, FieldChange, FilesDiff } from './types.js';
import { unifiedDiff } from './unified-diff.js';

/** Files up to this size are diffed as text. */
export const MAX_DIFF_FILE_BYTES = 64 * 1024;
/** At most this many changed files get a diff (the report must stay readable). */
export const MAX_DIFFED_FILES = 200;

export interface TreeSnapshot {
  dir: string;
  sums: Map<string, string>;
  /** Empty when not collected (whole-filesystem comparisons skip metadata). */
  stats: Map<string, FileStat>;
}

export async function snapshotTree(g: Guestfs, dir: string, withStats: boolean): Promise<TreeSnapshot> {
  const sums = await checksumTree(g, dir);
  const stats = withStats ? await lstatTree(g, dir) : new Map<string, FileStat>();
  return { dir, sums, stats };
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

function metadataChanges(a: FileStat, b: FileStat, ignoreTimestamps: boolean): FieldChange[] {
  const out: FieldChange[] = [];
  if ((a.mode & 0o7777) !== (b.mode & 0o7777))
    out.push({ field: 'mode', from: octal(a.mode), to: octal(b.mode) });
  if ((a.mode & S_IFMT) !== (b.mode & S_IFMT))
    out.push({ field: 'type', from: a.mode & S_IFMT, to: b.mode & S_IFMT });
  if (a.uid !== b.uid) out.push({ field: 'uid', from: a.uid, to: b.uid });
  if (a.gid !== b.gid) out.push({ field: 'gid', from: a.gid, to: b.gid });
  if (!ignoreTimestamps && a.mtime !== b.mtime) {
    out.push({
      field: 'mtime',
      from: new Date(a.mtime * 1000).toISOString(),
      to: new Date(b.mtime * 1000).toISOString(),
    });
  }
  return out;
}

/** Added / removed / changed regular files, and metadata changes of files on both sides. */
export function diffTrees(
  a: TreeSnapshot,
  b: TreeSnapshot,
  options: { ignoreTimestamps: boolean },
): FilesDiff {
  const out: FilesDiff = { root: a.dir, compared: 0, added: [], removed: [], changed: [] };
  const withStats = a.stats.size > 0 || b.stats.size > 0;
  if (withStats) out.metadata_changed = [];
  const all = [...new Set([...a.sums.keys(), ...b.sums.keys()])].sort();
  out.compared = all.length;
  for (const path of all) {
    const sa = a.sums.get(path);
    const sb = b.sums.get(path);
    if (sa === undefined) out.added.push(path);
    else if (sb === undefined) out.removed.push(path);
    else {
      if (sa !== sb) {
        out.changed.push({
          path,
          baseline_sha256: sa,
          target_sha256: sb,
          baseline_size: a.stats.get(path)?.size ?? null,
          target_size: b.stats.get(path)?.size ?? null,
        });
      }
      const fa = a.stats.get(path);
      const fb = b.stats.get(path);
      const changes = fa && fb ? metadataChanges(fa, fb, options.ignoreTimestamps) : [];
      if (changes.length > 0) out.metadata_changed?.push({ path, changes });
    }
  }
  return out;
}

export type OmitReason = 'binary' | 'too_large' | 'sensitive';
export type TextOrOmitted = { text: string } | { omitted: OmitReason };

/**
 * Files whose content must never land in a report (password hashes, private keys): they are
 * compared by checksum only and never read.
 */
const SENSITIVE = [
  /^\/etc\/g?shadow-?$/,
  /^\/etc\/security\/opasswd$/,
  /^\/etc\/ssh\/ssh_host_[^/]*_key$/,
  /^\/etc\/(ssl|pki)\/.*private\//,
  /\.(key|pem|p12|pfx|keytab|jks)$/,
  /^\/etc\/krb5\.keytab$/,
  /^\/etc\/.*(secret|credential|password)s?[^/]*$/i,
];

export function isSensitive(path: string): boolean {
  return SENSITIVE.some((re) => re.test(path));
}

/** Reads the changed files worth diffing from one side (the root must be mounted). */
export async function readChanged(
  g: Guestfs,
  changed: readonly ConfigFileChange[],
  side: 'baseline' | 'target',
): Promise<Map<string, TextOrOmitted>> {
  const out = new Map<string, TextOrOmitted>();
  for (const c of changed.slice(0, MAX_DIFFED_FILES)) {
    if (isSensitive(c.path)) {
      out.set(c.path, { omitted: 'sensitive' });
      continue;
    }
    const size = (side === 'baseline' ? c.baseline_size : c.target_size) ?? 0;
    out.set(c.path, await readSmallText(g, c.path, size, MAX_DIFF_FILE_BYTES));
  }
  return out;
}

/** Fills `diff` (or `diff_omitted`) on each change from the two sides' texts. */
export function attachDiffs(
  changed: ConfigFileChange[],
  before: ReadonlyMap<string, TextOrOmitted>,
  after: ReadonlyMap<string, TextOrOmitted>,
): void {
  for (const c of changed) {
    const a = before.get(c.path);
    const b = after.get(c.path);
    if (!a || !b) {
      c.diff_omitted = 'too_large';
      continue;
    }
    if ('omitted' in a || 'omitted' in b) {
      const why = 'omitted' in a ? a.omitted : (b as { omitted: OmitReason }).omitted;
      c.diff_omitted = why;
      continue;
    }
    c.diff = unifiedDiff(a.text, b.text, `baseline${c.path}`, `target${c.path}`);
  }
}

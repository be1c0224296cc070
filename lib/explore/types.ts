// The explorer's public shapes: what a listing, a stat, a read, a find and a grep answer.

/** What a directory entry is, from its lstat mode. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'unknown';

/** One file as `ls -l` would show it (lstat: a symlink is described, not followed). */
export interface ExploreEntry {
  name: string;
  /** Absolute path inside the guest. */
  path: string;
  type: EntryType;
  /** Size in bytes (a symlink's is the length of its target). */
  size: number;
  /** Permission and special bits (`st_mode & 0o7777`). */
  mode: number;
  /** `-rw-r--r--` style, with the type letter first. */
  permissions: string;
  uid: number;
  gid: number;
  /** Names from the guest's /etc/passwd and /etc/group, when it has them. */
  user?: string;
  group?: string;
  /** Modification time, ISO 8601 UTC. */
  mtime: string;
  /** A symlink's target as stored (resolved inside the guest, never on the host). */
  target?: string;
  /** A symlink: the type of what it points at in the guest (`unknown` when dangling). */
  targetType?: EntryType;
}

/** Sort orders for listings (names compare case-insensitively; directories first for `name`). */
export type SortKey = 'name' | 'size' | 'mtime' | 'type';

export interface ListOptions {
  /** First entry of the page (default 0). */
  offset?: number;
  /** Page size (default 500, at most {@link ExplorerLimits.maxPageEntries}). */
  limit?: number;
  sort?: SortKey;
  /** Leave out names starting with a dot. */
  hideHidden?: boolean;
}

export interface Listing {
  /** The directory as asked for (normalised). */
  path: string;
  entries: ExploreEntry[];
  /** Entries in the directory (after `hideHidden`), across all pages. */
  total: number;
  offset: number;
  limit: number;
}

export interface ReadOptions {
  /** Default 0. */
  offset?: number;
  /** Default 64 KiB, at most {@link ExplorerLimits.maxReadBytes}. */
  length?: number;
}

export interface ReadResult {
  path: string;
  offset: number;
  /** Bytes returned (short at the end of the file). */
  length: number;
  /** Size of the whole file. */
  size: number;
  /** True when no byte of the file lies after this range. */
  eof: boolean;
  /** True when the bytes look binary (NUL bytes, invalid UTF-8, many control characters). */
  binary: boolean;
  data: Buffer;
  /** The bytes as UTF-8 when they are text; undefined for binary. */
  text?: string;
}

export interface FindOptions {
  /** Most matches returned (default and cap: {@link ExplorerLimits.maxFindResults}). */
  limit?: number;
}

export interface FindResult {
  path: string;
  glob: string;
  /** Absolute guest paths, in the order `find` walked them. */
  matches: string[];
  /** True when the walk or the match list hit a bound: there may be more. */
  truncated: boolean;
}

export interface GrepOptions {
  /** Case-insensitive. */
  ignoreCase?: boolean;
  /** Most matching lines returned (default {@link ExplorerLimits.maxGrepMatches}). */
  maxMatches?: number;
}

export interface GrepMatch {
  path: string;
  /** 1-based line number. */
  line: number;
  /** The line, cut at 512 characters. */
  text: string;
}

export interface GrepResult {
  path: string;
  pattern: string;
  matches: GrepMatch[];
  /** Regular files searched. */
  filesSearched: number;
  /** Bytes read from the guest. */
  bytesSearched: number;
  /** True when a bound (matches, files, bytes, time) stopped the search early. */
  truncated: boolean;
  /** Which bound, when truncated. */
  stoppedBy?: 'matches' | 'files' | 'bytes' | 'time';
}

/** Bounds that keep one request's cost in check. */
export interface ExplorerLimits {
  maxPageEntries: number;
  maxReadBytes: number;
  maxFindResults: number;
  /** Names a find may walk before it stops (a whole guest can hold millions). */
  maxFindScanned: number;
  maxGrepMatches: number;
  maxGrepFiles: number;
  maxGrepBytes: number;
  /** Files larger than this are skipped by grep. */
  maxGrepFileBytes: number;
  /** Wall-clock budget of one grep (pattern matching runs on a worker thread, killed past it). */
  grepTimeMs: number;
}

export const DEFAULT_EXPLORER_LIMITS: Readonly<ExplorerLimits> = Object.freeze({
  maxPageEntries: 5000,
  maxReadBytes: 4 * 1024 * 1024,
  maxFindResults: 1000,
  maxFindScanned: 500_000,
  maxGrepMatches: 200,
  maxGrepFiles: 2000,
  maxGrepBytes: 64 * 1024 * 1024,
  maxGrepFileBytes: 8 * 1024 * 1024,
  grepTimeMs: 20_000,
});

/** How the image's filesystems were mounted. */
export type ExploreLayout =
  | {
      kind: 'os';
      /** The inspected root device. */
      root: string;
      /** Guest mountpoint → device, as mounted. */
      mounts: Record<string, string>;
      product?: string;
    }
  | {
      /** No operating system: each filesystem under `/<device name>` (`/sda1`). */
      kind: 'filesystems';
      mounts: Record<string, string>;
    };

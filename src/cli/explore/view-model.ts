// The files view's state and keys, without a terminal: what each key does to the state, which
// call to the session it asks for, and the text of every pane. tui.ts draws it with Ink.
import { posix } from 'node:path';
import type { ExploreEntry, ReadResult, SortKey } from '../../../lib/explore/index.js';

export type Focus = 'list' | 'filter' | 'pane';
export type Pane =
  | { kind: 'hint' }
  | { kind: 'help' }
  | { kind: 'info'; entry: ExploreEntry }
  | { kind: 'preview'; path: string; lines: string[]; binary: boolean; shown: number; size: number };

export interface ViewState {
  cwd: string;
  entries: ExploreEntry[];
  /** Entries in the directory (more than `entries` when the listing was cut). */
  total: number;
  selected: number;
  filter: string;
  /** The filter being typed (focus `filter`). */
  draft: string;
  showHidden: boolean;
  sort: SortKey;
  focus: Focus;
  pane: Pane;
  paneTop: number;
  message?: string;
  /** A listing was asked for and has not arrived. */
  loading?: boolean;
  /** Name to select once the listing of `cwd` arrives (the directory we came up from). */
  reselect?: string;
}

/** What the view asks of the session after a key. */
export type Effect =
  | { kind: 'list'; path: string }
  | { kind: 'preview'; path: string }
  | { kind: 'info'; path: string }
  | { kind: 'quit' };

/** The keys the view reads (Ink's key flags, by name). */
export interface Keys {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  return?: boolean;
  escape?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
  home?: boolean;
  end?: boolean;
}

const KEY_FLAGS: readonly (keyof Keys)[] = [
  'upArrow',
  'downArrow',
  'pageUp',
  'pageDown',
  'return',
  'escape',
  'backspace',
  'delete',
  'ctrl',
  'home',
  'end',
];

export const SORTS: readonly SortKey[] = ['name', 'size', 'type', 'mtime'];

export const HELP = [
  'Keys',
  '',
  '  up/down, j/k   move',
  '  PgUp/PgDn      a page up / down',
  '  Enter          open a directory / view a file',
  '  Backspace      parent directory',
  '  v              view the file (text, or hex)',
  '  i              file info',
  '  /              filter by name (Enter applies, Esc clears)',
  '  .              show / hide dot files',
  '  s              sort: name, size, type, mtime',
  '  h, ?           this help',
  '  q, Esc         quit (Esc first closes a pane)',
];

export function initialState(cwd: string): ViewState {
  return {
    cwd,
    entries: [],
    total: 0,
    selected: 0,
    filter: '',
    draft: '',
    showHidden: true,
    sort: 'name',
    focus: 'list',
    pane: { kind: 'hint' },
    paneTop: 0,
  };
}

/** The entries shown: dot files and the name filter applied. */
export function visible(s: ViewState): ExploreEntry[] {
  const f = s.filter.toLowerCase();
  return s.entries.filter(
    (e) => (s.showHidden || !e.name.startsWith('.')) && (f === '' || e.name.toLowerCase().includes(f)),
  );
}

function clampSelected(s: ViewState): ViewState {
  const n = visible(s).length;
  return { ...s, selected: Math.max(0, Math.min(s.selected, n - 1)) };
}

/** A listing arrived for `s.cwd`. */
export function listed(s: ViewState, entries: ExploreEntry[], total: number): ViewState {
  const next = { ...s, entries, total, selected: 0, reselect: undefined, loading: false };
  if (s.reselect !== undefined) {
    const i = visible(next).findIndex((e) => e.name === s.reselect);
    if (i >= 0) next.selected = i;
  }
  return next;
}

/**
 * Ink hands a chunk of plain typed text over as one input ('/etc' and Enter pasted or sent at
 * once arrive as '/etc\r'): split it into single keys so each one acts as if typed alone.
 */
export function splitTyped(input: string, key: Keys): [string, Keys][] {
  const special = KEY_FLAGS.some((k) => key[k] === true);
  if (special || [...input].length <= 1) return [[input, key]];
  return [...input].map((c): [string, Keys] => {
    if (c === '\r' || c === '\n') return ['', { return: true }];
    if (c === '\x7f') return ['', { delete: true }];
    if (c === '\b') return ['', { backspace: true }];
    return [c, {}];
  });
}

/** Leaving a directory: its entries go until the new listing arrives. */
const going = (): Partial<ViewState> => ({
  entries: [],
  total: 0,
  selected: 0,
  filter: '',
  loading: true,
  message: undefined,
});

/** Applies one key; `page` is the list's height in rows. */
export function onKey(s: ViewState, input: string, key: Keys, page: number): [ViewState, Effect?] {
  if (s.focus === 'filter') return filterKey(s, input, key);
  if ((input === 'c' && key.ctrl) || input === 'q') return [s, { kind: 'quit' }];
  if (key.escape) {
    if (s.focus === 'pane' || s.pane.kind !== 'hint')
      return [{ ...s, focus: 'list', pane: { kind: 'hint' } }];
    if (s.filter !== '') return [clampSelected({ ...s, filter: '', draft: '' })];
    return [s, { kind: 'quit' }];
  }
  if (s.focus === 'pane') return paneKey(s, input, key, page);
  const items = visible(s);
  const cur = items[s.selected] as ExploreEntry | undefined;
  const move = (d: number): [ViewState] => [
    clampSelected({ ...s, selected: s.selected + d, message: undefined }),
  ];
  if (key.upArrow || input === 'k') return move(-1);
  if (key.downArrow || input === 'j') return move(1);
  if (key.pageUp) return move(-page);
  if (key.pageDown) return move(page);
  if (key.home || input === 'g') return move(-items.length);
  if (key.end || input === 'G') return move(items.length);
  if (key.backspace || key.delete) {
    if (s.cwd === '/') return [s];
    const cwd = posix.dirname(s.cwd);
    return [
      { ...s, ...going(), cwd, reselect: posix.basename(s.cwd) },
      { kind: 'list', path: cwd },
    ];
  }
  if (key.return && cur) {
    const dir = cur.type === 'directory' || (cur.type === 'symlink' && cur.targetType === 'directory');
    if (dir)
      return [
        { ...s, ...going(), cwd: cur.path },
        { kind: 'list', path: cur.path },
      ];
    return [s, { kind: 'preview', path: cur.path }];
  }
  if (input === 'v' && cur) return [s, { kind: 'preview', path: cur.path }];
  if (input === 'i' && cur) return [s, { kind: 'info', path: cur.path }];
  if (input === '/') return [{ ...s, focus: 'filter', draft: s.filter }];
  if (input === '.') return [clampSelected({ ...s, showHidden: !s.showHidden })];
  if (input === 's') {
    const sort = SORTS[(SORTS.indexOf(s.sort) + 1) % SORTS.length];
    return [
      { ...s, sort, reselect: cur?.name },
      { kind: 'list', path: s.cwd },
    ];
  }
  if (input === 'h' || input === '?') return [{ ...s, pane: { kind: 'help' }, paneTop: 0 }];
  return [s];
}

function filterKey(s: ViewState, input: string, key: Keys): [ViewState] {
  if (key.return) return [clampSelected({ ...s, focus: 'list', filter: s.draft, selected: 0 })];
  if (key.escape) return [clampSelected({ ...s, focus: 'list', filter: '', draft: '' })];
  if (key.backspace || key.delete) return [{ ...s, draft: s.draft.slice(0, -1) }];
  if (input && !key.ctrl && ![...input].some(isControl)) return [{ ...s, draft: s.draft + input }];
  return [s];
}

function paneKey(s: ViewState, input: string, key: Keys, page: number): [ViewState, Effect?] {
  const lines = s.pane.kind === 'preview' ? s.pane.lines.length : 0;
  const scroll = (d: number): [ViewState] => [
    { ...s, paneTop: Math.max(0, Math.min(s.paneTop + d, lines - page)) },
  ];
  if (key.upArrow || input === 'k') return scroll(-1);
  if (key.downArrow || input === 'j') return scroll(1);
  if (key.pageUp) return scroll(-page);
  if (key.pageDown || input === ' ') return scroll(page);
  if (input === 'v' || key.backspace || key.delete || key.return) return [{ ...s, focus: 'list' }];
  // Info and help act on the selected entry as from the list.
  if (input === 'i' || input === 'h' || input === '?')
    return onKey({ ...s, focus: 'list' }, input, key, page);
  return [s];
}

/** The preview of a read: numbered text lines, or a hex dump for binary bytes. */
export function previewPane(r: ReadResult): Pane {
  let lines: string[];
  if (r.text !== undefined) {
    const text = r.text.endsWith('\n') ? r.text.slice(0, -1) : r.text;
    const split = text === '' ? [] : text.split('\n');
    const w = String(split.length).length;
    lines = split.map((l, i) => `${String(i + 1).padStart(w)} │ ${l.replace(/\t/g, '    ')}`);
  } else {
    lines = hexDump(r.data, r.offset);
  }
  return { kind: 'preview', path: r.path, lines, binary: r.binary, shown: r.length, size: r.size };
}

/** `00000000  7f 45 4c 46 02 01 01 00  00 00 …  |.ELF....|` lines, 16 bytes each. */
export function hexDump(data: Buffer, base = 0): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length; i += 16) {
    const row = data.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out.push(
      `${(base + i).toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`,
    );
  }
  return out;
}

function isControl(c: string): boolean {
  const n = c.charCodeAt(0);
  return n < 0x20 || n === 0x7f;
}

/** `4.0K`, `12M`: sizes as ls -h prints them. */
export function humanSize(n: number): string {
  if (n < 1024) return String(n);
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

/** The text of the info pane. */
export function infoLines(e: ExploreEntry): string[] {
  return [
    `Path:     ${e.path}`,
    `Type:     ${e.type}${e.targetType ? ` (to a ${e.targetType})` : ''}`,
    ...(e.target !== undefined ? [`Target:   ${e.target}`] : []),
    `Size:     ${e.size} bytes (${humanSize(e.size)})`,
    `Mode:     ${e.permissions} (${e.mode.toString(8).padStart(4, '0')})`,
    `Owner:    ${e.user ?? e.uid} (${e.uid})`,
    `Group:    ${e.group ?? e.gid} (${e.gid})`,
    `Modified: ${e.mtime}`,
  ];
}

/** One list row: the name (directories end in `/`, symlinks in `@`), its size and type. */
export function rowText(e: ExploreEntry, width: number, selected = false): string {
  const mark = selected ? '>' : ' ';
  const suffix = e.type === 'directory' ? '/' : e.type === 'symlink' ? '@' : '';
  const size = e.type === 'directory' ? '-' : humanSize(e.size);
  const tail = ` ${size.padStart(6)} ${e.type.slice(0, 4).padEnd(4)}`;
  return mark + fit(`${e.name}${suffix}`, width - tail.length - 1) + tail;
}

/** Cuts or pads to exactly `width` columns (one column per code point; control characters shown as `?`). */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text].map((c) => (isControl(c) ? '?' : c));
  if (chars.length > width) return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
  return chars.join('') + ' '.repeat(width - chars.length);
}

// The files view's keys and pane texts, without a terminal or an appliance.
import { describe, expect, it } from 'vitest';
import type { ExploreEntry } from '../../lib/explore/index.js';
import {
  hexDump,
  humanSize,
  initialState,
  listed,
  onKey,
  previewPane,
  rowText,
  splitTyped,
  visible,
  type ViewState,
} from '../../src/cli/explore/view-model.js';

const entry = (
  name: string,
  type: ExploreEntry['type'] = 'file',
  extra: Partial<ExploreEntry> = {},
): ExploreEntry => ({
  name,
  path: `/etc/${name}`,
  type,
  size: 10,
  mode: 0o644,
  permissions: '-rw-r--r--',
  uid: 0,
  gid: 0,
  mtime: '2026-01-01T00:00:00.000Z',
  ...extra,
});
const ENTRIES = [
  entry('.hidden'),
  entry('apt', 'directory'),
  entry('hosts'),
  entry('os-release', 'symlink', { targetType: 'file' }),
];
const at = (cwd: string): ViewState => listed(initialState(cwd), ENTRIES, ENTRIES.length);

describe('files view keys', () => {
  it('moves with arrows and j/k within the list, pages with PgUp/PgDn', () => {
    let [s] = onKey(at('/etc'), 'j', {}, 10);
    expect(s.selected).toBe(1);
    [s] = onKey(s, '', { downArrow: true }, 10);
    [s] = onKey(s, '', { pageDown: true }, 10);
    expect(s.selected).toBe(3);
    [s] = onKey(s, 'k', {}, 10);
    [s] = onKey(s, '', { pageUp: true }, 10);
    expect(s.selected).toBe(0);
  });

  it('Enter opens a directory (asking for its listing) and views a file; Backspace goes up and reselects', () => {
    let s = { ...at('/etc'), selected: 1 };
    const [inApt, list] = onKey(s, '', { return: true }, 10);
    // The old directory's entries go until the new listing arrives.
    expect(inApt).toMatchObject({ cwd: '/etc/apt', entries: [], loading: true });
    expect(list).toEqual({ kind: 'list', path: '/etc/apt' });
    s = { ...at('/etc'), selected: 2 };
    expect(onKey(s, '', { return: true }, 10)[1]).toEqual({ kind: 'preview', path: '/etc/hosts' });
    const [up, effect] = onKey(at('/etc'), '', { delete: true }, 10);
    expect(effect).toEqual({ kind: 'list', path: '/' });
    const back = listed(up, [entry('bin', 'directory'), entry('etc', 'directory')], 2);
    expect(visible(back)[back.selected].name).toBe('etc');
  });

  it('filters by typed name, hides dot files, cycles the sort, quits on q and on Esc when nothing is open', () => {
    let [s] = onKey(at('/etc'), '/', {}, 10);
    for (const [input, key] of splitTyped('os\r', {})) [s] = onKey(s, input, key, 10);
    expect(s.focus).toBe('list');
    expect(visible(s).map((e) => e.name)).toEqual(['hosts', 'os-release']);
    [s] = onKey(s, '', { escape: true }, 10);
    expect(s.filter).toBe('');
    [s] = onKey(s, '.', {}, 10);
    expect(visible(s).map((e) => e.name)).not.toContain('.hidden');
    const [sorted, relist] = onKey(s, 's', {}, 10);
    expect(sorted.sort).toBe('size');
    expect(relist).toEqual({ kind: 'list', path: '/etc' });
    expect(onKey(s, 'q', {}, 10)[1]).toEqual({ kind: 'quit' });
    expect(onKey(s, '', { escape: true }, 10)[1]).toEqual({ kind: 'quit' });
    const inPane: ViewState = { ...s, focus: 'pane' };
    expect(onKey(inPane, 'i', {}, 10)[1]).toEqual({ kind: 'info', path: '/etc/apt' });
    const [help] = onKey(s, '?', {}, 10);
    expect(help.pane.kind).toBe('help');
    expect(onKey(help, '', { escape: true }, 10)[0].pane.kind).toBe('hint');
  });
});

describe('files view panes', () => {
  it('numbers text lines and dumps binary as hex', () => {
    const text = previewPane({
      path: '/a',
      offset: 0,
      length: 6,
      size: 6,
      eof: true,
      binary: false,
      data: Buffer.from('x\ny\tz\n'),
      text: 'x\ny\tz\n',
    });
    expect(text).toMatchObject({ kind: 'preview', lines: ['1 │ x', '2 │ y    z'] });
    expect(hexDump(Buffer.from('\x7fELF\x00abcdefghijklmnopq'), 16)).toEqual([
      '00000010  7f 45 4c 46 00 61 62 63  64 65 66 67 68 69 6a 6b  |.ELF.abcdefghijk|',
      '00000020  6c 6d 6e 6f 70 71                                 |lmnopq|',
    ]);
  });

  it('prints sizes like ls -h and fits rows to the width, marking the selected one', () => {
    expect([humanSize(512), humanSize(4096), humanSize(6 * 1024 * 1024 + 5)]).toEqual([
      '512',
      '4.0K',
      '6.0M',
    ]);
    const row = rowText(entry('a-very-long-file-name.conf'), 24, true);
    expect(row).toHaveLength(24);
    expect(row).toBe('>a-very-lon…     10 file');
    expect(rowText(entry('apt', 'directory'), 24)).toMatch(/^ apt\/ +- dire$/);
  });
});

// The interactive files view of `guestkit-worker explore`, drawn with Ink (React for terminals):
// a header, the directory list beside a pane (preview, info or help), and a status line. The
// keys and the pane texts live in view-model.ts; this file draws them and calls the session.
import type { ExploreSource } from './source.js';
import {
  HELP,
  fit,
  infoLines,
  initialState,
  listed,
  onKey,
  previewPane,
  rowText,
  splitTyped,
  visible,
  type Effect,
  type Keys,
  type ViewState,
} from './view-model.js';

// Ink and React are loaded by name when the view opens: the script forms and the daemon never
// load them, and the type-check does not need their type packages. These are the parts of their
// APIs used here.
type Element = { readonly $$typeof: symbol };
type Component = (props: never) => Element | null;
interface ReactApi {
  createElement(type: unknown, props: Record<string, unknown> | null, ...children: unknown[]): Element;
  useState<T>(init: T): [T, (next: T | ((prev: T) => T)) => void];
  useEffect(fn: () => void | (() => void), deps?: unknown[]): void;
  useRef<T>(init: T): { current: T };
}
interface InkApi {
  render(
    el: Element,
    options: { exitOnCtrlC: boolean; patchConsole: boolean },
  ): { waitUntilExit(): Promise<unknown> };
  Box: Component;
  Text: Component;
  useInput(handler: (input: string, key: Keys) => void): void;
  useApp(): { exit(error?: Error): void };
}
const load = (name: string): Promise<unknown> => import(name);

/** Bytes read for a preview. */
const PREVIEW_BYTES = 64 * 1024;

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`;
}

/** Loads Ink and React (before a session is opened, so a missing package costs no launch). */
export async function loadFilesView(): Promise<(source: ExploreSource, start: string) => Promise<void>> {
  const [react, inkModule] = await Promise.all([load('react'), load('ink')]).catch((err: unknown) => {
    throw Object.assign(
      new Error(
        `the files view needs the npm packages 'ink' and 'react' (run npm install): ${(err as Error).message}`,
      ),
      { code: 'MISSING_DEPENDENCY' },
    );
  });
  return (source, start) => runFilesView(react as { default: ReactApi }, inkModule as InkApi, source, start);
}

/** Runs the files view until q/Esc; the caller closes the session. */
async function runFilesView(
  react: { default: ReactApi },
  ink: InkApi,
  source: ExploreSource,
  start: string,
): Promise<void> {
  const React = react.default;
  const h = React.createElement;
  const { Box, Text } = ink;

  function useTerminalSize(): { rows: number; cols: number } {
    const get = () => ({ rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 });
    const [size, setSize] = React.useState(get());
    React.useEffect(() => {
      const onResize = () => setSize(get());
      process.stdout.on('resize', onResize);
      return () => void process.stdout.off('resize', onResize);
    }, []);
    return size;
  }

  function FilesView(): Element {
    const [s, setS] = React.useState<ViewState>(initialState(start));
    const state = React.useRef(s);
    state.current = s;
    const { exit } = ink.useApp();
    const { rows, cols } = useTerminalSize();
    const bodyRows = Math.max(3, rows - 3);

    const perform = (effect: Effect, before: ViewState): void => {
      const fail = (err: unknown, restore: boolean) =>
        setS((cur) => ({ ...(restore ? before : cur), message: describe(err) }));
      switch (effect.kind) {
        case 'quit':
          exit();
          return;
        case 'list':
          source.ls(effect.path, { limit: 5000, sort: state.current.sort }).then(
            (l) => setS((cur) => (cur.cwd === effect.path ? listed(cur, l.entries, l.total) : cur)),
            (err: unknown) => fail(err, true),
          );
          return;
        case 'preview':
          source.read(effect.path, { length: PREVIEW_BYTES }).then(
            (r) =>
              setS((cur) => ({
                ...cur,
                pane: previewPane(r),
                paneTop: 0,
                focus: 'pane',
                message: undefined,
              })),
            (err: unknown) => fail(err, false),
          );
          return;
        case 'info':
          source.stat(effect.path).then(
            (entry) =>
              setS((cur) => ({ ...cur, pane: { kind: 'info', entry }, paneTop: 0, message: undefined })),
            (err: unknown) => fail(err, false),
          );
          return;
      }
    };

    React.useEffect(() => perform({ kind: 'list', path: start }, state.current), []);
    ink.useInput((chunk, keys) => {
      for (const [input, key] of splitTyped(chunk, keys)) {
        const before = state.current;
        const [next, effect] = onKey(before, input, key, bodyRows);
        state.current = next;
        setS(next);
        if (effect) perform(effect, before);
      }
    });

    const items = visible(s);
    const listW = Math.min(Math.max(28, Math.floor(cols * 0.3)), cols - 10);
    const paneW = Math.max(0, cols - listW - 3);
    const top = Math.max(0, Math.min(s.selected - Math.floor(bodyRows / 2), items.length - bodyRows));
    const pane = paneLines(s, paneW);
    const body: Element[] = [];
    for (let i = 0; i < bodyRows; i++) {
      const e = items[top + i];
      const selected = e !== undefined && top + i === s.selected;
      body.push(
        h(
          Box,
          { key: i },
          h(
            Text,
            { inverse: selected && s.focus !== 'pane', bold: selected },
            e
              ? rowText(e, listW, selected)
              : fit(i === 0 && s.entries.length === 0 && !s.loading ? '(empty)' : '', listW),
          ),
          h(Text, { dimColor: true }, ' │ '),
          h(Text, {}, fit(pane[i] ?? '', paneW)),
        ),
      );
    }
    const where =
      source.layout.kind === 'os' ? (source.layout.product ?? source.layout.root) : 'filesystems by device';
    const status =
      s.focus === 'filter'
        ? `Filter: ${s.draft}_   (Enter apply, Esc clear)`
        : (s.message ??
          (s.loading ? `Loading ${s.cwd} …` : undefined) ??
          `${items.length}/${s.total} items   sort: ${s.sort}   dot files: ${s.showHidden ? 'shown' : 'hidden'}` +
            `${s.filter ? `   filter: ${s.filter}` : ''}   h help  q quit`);
    return h(
      Box,
      { flexDirection: 'column' },
      h(
        Text,
        { inverse: true, bold: true },
        fit(` guestkit explore  ${source.image}  [${where}]  ${s.cwd}`, cols),
      ),
      ...body,
      h(Text, { color: s.message ? 'red' : undefined }, fit(status, cols)),
    );
  }

  const app = ink.render(h(FilesView, null), { exitOnCtrlC: false, patchConsole: false });
  await app.waitUntilExit();
}

/** The right pane's lines, from its first row down (a preview scrolled by `paneTop`). */
function paneLines(s: ViewState, width: number): string[] {
  switch (s.pane.kind) {
    case 'help':
      return HELP;
    case 'info':
      return infoLines(s.pane.entry);
    case 'preview': {
      const p = s.pane;
      const what = p.binary ? 'binary, hex' : 'text';
      const cut = p.shown < p.size ? `, first ${p.shown} of ${p.size} bytes` : `, ${p.size} bytes`;
      // The title stays on the first line as the pane scrolls.
      const title = fit(`── ${p.path} (${what}${cut}) `, width).replace(/ +$/, (m) => '─'.repeat(m.length));
      return [title, ...p.lines.slice(s.paneTop)];
    }
    case 'hint':
      return ['Enter or v: view   i: info   /: filter   h: help'];
  }
}

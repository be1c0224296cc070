// Boot loader configuration as text: GRUB 2 (grub.cfg menu entries and BLS snippets), GRUB
// legacy (menu.lst / grub.conf) and systemd-boot (loader.conf + entries). Pure parsing; the
// collector reads the files.

export type BootloaderKind = 'grub2' | 'grub-legacy' | 'systemd-boot';

export interface BootEntry {
  title: string;
  /** Kernel path as the config names it (`/vmlinuz-6.1.0`). */
  kernel: string;
  initrd: string | null;
  /** Kernel command line after the kernel path. */
  cmdline: string;
  /** The root= argument, null when absent. */
  root: string | null;
  /** File the entry came from. */
  source: string;
}

/** Value of `key=` on a kernel command line (last occurrence wins, as the kernel reads it). */
export function cmdlineArg(cmdline: string, key: string): string | null {
  let value: string | null = null;
  for (const tok of cmdline.split(/\s+/)) if (tok.startsWith(`${key}=`)) value = tok.slice(key.length + 1);
  return value;
}

/** Every `console=` of a command line. */
export function consoles(cmdline: string): string[] {
  return cmdline
    .split(/\s+/)
    .filter((t) => t.startsWith('console='))
    .map((t) => t.slice(8));
}

function entry(title: string, kernelLine: string, initrd: string | null, source: string): BootEntry {
  const [kernel = '', ...args] = kernelLine.trim().split(/\s+/);
  const cmdline = args.join(' ');
  return { title, kernel, initrd, cmdline, root: cmdlineArg(cmdline, 'root'), source };
}

/**
 * grub.cfg: the menu entries with their linux/initrd lines, and which one `set default` picks
 * (an index, an id or a title; `saved` and anything unknown give the first).
 */
export function parseGrubCfg(
  text: string,
  source: string,
  savedEntry?: string,
): { entries: BootEntry[]; default: number } {
  const entries: (BootEntry & { id: string })[] = [];
  let defaultSpec = '0';
  let current: { title: string; id: string; linux: string | null; initrd: string | null } | null = null;
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const def = /^set\s+default=["']?([^"'\s]*)["']?/.exec(line);
    if (def && depth === 0) defaultSpec = def[1];
    const menu = /^menuentry\s+(?:'([^']*)'|"([^"]*)"|(\S+))(.*)\{\s*$/.exec(line);
    if (menu) {
      const id = /--id\s+['"]?([^'"\s]+)/.exec(menu[4])?.[1] ?? '';
      current = { title: menu[1] ?? menu[2] ?? menu[3], id, linux: null, initrd: null };
      depth++;
      continue;
    }
    if (/^submenu\b/.test(line) && line.endsWith('{')) {
      depth++;
      continue;
    }
    if (current) {
      const linux = /^(?:linux|linux16|linuxefi)\s+(.*)$/.exec(line);
      if (linux) current.linux = linux[1];
      const initrd = /^(?:initrd|initrd16|initrdefi)\s+(\S+)/.exec(line);
      if (initrd) current.initrd = initrd[1];
    }
    if (line === '}') {
      depth = Math.max(0, depth - 1);
      if (current?.linux)
        entries.push({ ...entry(current.title, current.linux, current.initrd, source), id: current.id });
      current = null;
    }
  }
  const spec =
    defaultSpec === 'saved' || defaultSpec === '${saved_entry}' ? (savedEntry ?? '0') : defaultSpec;
  let index = /^\d+$/.test(spec) ? Number(spec) : entries.findIndex((e) => e.id === spec || e.title === spec);
  if (index < 0 || index >= entries.length) index = 0;
  return { entries: entries.map(({ id: _id, ...e }) => e), default: index };
}

/** A Boot Loader Specification entry (/boot/loader/entries/*.conf). `vars` expands $kernelopts. */
export function parseBlsEntry(
  text: string,
  source: string,
  vars: Record<string, string> = {},
): BootEntry | null {
  const get = (key: string) => new RegExp(`^${key}\\s+(.*)$`, 'm').exec(text)?.[1]?.trim() ?? null;
  const linux = get('linux');
  if (!linux) return null;
  const options = (get('options') ?? '').replace(/\$(\w+)/g, (_, v: string) => vars[v] ?? '');
  return entry(get('title') ?? source, `${linux} ${options}`, get('initrd'), source);
}

/** GRUB legacy menu.lst / grub.conf: `title`, `kernel`, `initrd`, `default N`. */
export function parseGrubLegacy(text: string, source: string): { entries: BootEntry[]; default: number } {
  const entries: BootEntry[] = [];
  let def = 0;
  let title: string | null = null;
  let kernel: string | null = null;
  let initrd: string | null = null;
  const flush = () => {
    if (title !== null && kernel) entries.push(entry(title, kernel, initrd, source));
    kernel = null;
    initrd = null;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^(\w+)\s*[=\s]\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'default' && /^\d+$/.test(value)) def = Number(value);
    if (key === 'title') {
      flush();
      title = value;
    } else if (key === 'kernel') kernel = value;
    else if (key === 'initrd') initrd = value.split(/\s+/)[0];
  }
  flush();
  return { entries, default: def < entries.length ? def : 0 };
}

/** `key=value` lines of grubenv and /etc/default/grub (quotes removed). */
export function parseShellVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** Kernel version of a kernel path (`/vmlinuz-6.1.0-13-amd64` → `6.1.0-13-amd64`). */
export function kernelVersionOf(path: string): string | null {
  return /vmlinu[xz]-(.+)$/.exec(path)?.[1] ?? null;
}

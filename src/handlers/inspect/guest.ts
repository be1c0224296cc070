// Reading a mounted guest with few round trips: every call here is queued on the handle's thread
// at once (Promise.all), so the thread runs them back to back instead of waiting for JS between
// files. Missing files and directories are normal in a guest and come back as null / [].
import type { Guestfs } from '../../../lib/guestfs.js';

/** Guest files that may not exist, read in one burst: path → text (null when absent/unreadable). */
export async function readFiles(g: Guestfs, paths: readonly string[]): Promise<Map<string, string | null>> {
  const texts = await Promise.all(
    paths.map((p) =>
      g.readFile(p).then(
        (b) => b.toString('utf8'),
        () => null,
      ),
    ),
  );
  return new Map(paths.map((p, i) => [p, texts[i]]));
}

/** Directory entries (sorted), [] when the directory does not exist. */
export async function listDir(g: Guestfs, dir: string): Promise<string[]> {
  return g.ls(dir).then(
    (names) => names.sort(),
    () => [],
  );
}

/** Several directories in one burst: dir → entries. */
export async function listDirs(g: Guestfs, dirs: readonly string[]): Promise<Map<string, string[]>> {
  const lists = await Promise.all(dirs.map((d) => listDir(g, d)));
  return new Map(dirs.map((d, i) => [d, lists[i]]));
}

/** Reads every file of `dir` whose name passes `filter`: full path → text. */
export async function readDir(
  g: Guestfs,
  dir: string,
  filter: (name: string) => boolean = () => true,
): Promise<Map<string, string | null>> {
  const names = (await listDir(g, dir)).filter(filter);
  return readFiles(
    g,
    names.map((n) => `${dir}/${n}`),
  );
}

/** Lines without comments (`#`) and blank lines, trimmed. */
export function meaningfulLines(text: string | null | undefined, comment = '#'): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith(comment)) continue;
    out.push(line);
  }
  return out;
}

/** Shell-style `KEY=value` files (os-release, ifcfg, sysconfig, ufw.conf): quotes removed. */
export function parseKeyValues(text: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of meaningfulLines(text)) {
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2].trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out[m[1]] = value;
  }
  return out;
}

/** INI files (NetworkManager keyfiles, systemd .network, my.cnf): section → key → value. */
export function parseIni(text: string | null | undefined): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  sections.set('', current);
  for (const line of meaningfulLines(text).filter((l) => !l.startsWith(';'))) {
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]) ?? new Map();
      sections.set(section[1], current);
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (kv) current.set(kv[1].trim(), kv[2].trim());
  }
  return sections;
}

/** True for guest paths that exist (one burst). */
export async function existing(g: Guestfs, paths: readonly string[]): Promise<Set<string>> {
  const found = await Promise.all(paths.map((p) => g.exists(p).catch(() => false)));
  return new Set(paths.filter((_, i) => found[i]));
}

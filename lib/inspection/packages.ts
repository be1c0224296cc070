// Installed packages read from a guest's own databases: dpkg's status file and rpm's sqlite
// database (RHEL 9, Fedora 33+). Entries come out as libguestfs' application2 structs with the
// values inspect_list_applications2 gives for the same database.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { GuestfsApplication2 } from '../generated/actions.js';

function application(fields: Partial<GuestfsApplication2> & { app2_name: string }): GuestfsApplication2 {
  return {
    app2_display_name: '',
    app2_epoch: 0,
    app2_version: '',
    app2_release: '',
    app2_arch: '',
    app2_install_path: '',
    app2_trans_path: '',
    app2_publisher: '',
    app2_url: '',
    app2_source_package: '',
    app2_summary: '',
    app2_description: '',
    app2_spare1: '',
    app2_spare2: '',
    app2_spare3: '',
    app2_spare4: '',
    ...fields,
  };
}

const byName = (a: GuestfsApplication2, b: GuestfsApplication2) =>
  a.app2_name < b.app2_name ? -1 : a.app2_name > b.app2_name ? 1 : 0;

/**
 * /var/lib/dpkg/status → installed packages. Like libguestfs, a stanza counts once a blank line
 * closes it, its Status mentions "installed", and its epoch (before ':') is a number; the
 * version splits at the first '-' into version and release.
 */
export function parseDpkgStatus(text: string): GuestfsApplication2[] {
  const apps: GuestfsApplication2[] = [];
  let cur: Record<string, string> = {};
  let installed = false;
  let inDescription = false;
  const description: string[] = [];
  // Lines as fgets gives them: a final newline ends the last line, it does not start an empty one.
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  for (const line of lines) {
    if (line.startsWith(' ') && inDescription) {
      description.push(line.slice(1));
      continue;
    }
    inDescription = false;
    if (line === '') {
      const version = cur.Version;
      if (installed && cur.Package !== undefined && version !== undefined) {
        const colon = version.indexOf(':');
        const epoch =
          colon < 0 ? 0 : /^\d+$/.test(version.slice(0, colon)) ? Number(version.slice(0, colon)) : -1;
        const rest = colon < 0 ? version : version.slice(colon + 1);
        const dash = rest.indexOf('-');
        if (epoch >= 0) {
          apps.push(
            application({
              app2_name: cur.Package,
              app2_epoch: epoch,
              app2_version: dash < 0 ? rest : rest.slice(0, dash),
              app2_release: dash < 0 ? '' : rest.slice(dash + 1),
              app2_arch: cur.Architecture ?? '',
              app2_url: cur.Homepage ?? '',
              app2_source_package: (cur.Source ?? '').split(' ')[0],
              app2_summary: cur.Description ?? '',
              app2_description: description.join('\n'),
            }),
          );
        }
      }
      cur = {};
      installed = false;
      description.length = 0;
      continue;
    }
    const m = /^(Package|Status|Version|Architecture|Homepage|Source|Description): (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'Status') installed = m[2].includes('installed');
    else cur[m[1]] = m[2];
    if (m[1] === 'Description') {
      inDescription = true;
      description.length = 0;
    }
  }
  return apps.sort(byName);
}

const TAG = {
  name: 1000,
  version: 1001,
  release: 1002,
  epoch: 1003,
  summary: 1004,
  description: 1005,
  url: 1020,
  arch: 1022,
};
const STRING = 6;
const I18NSTRING = 9;
const INT32 = 4;

/**
 * One rpm header blob (as rpmdb stores it: index count, data length, index entries, data)
 * → the package; undefined for a blob too short or inconsistent to be a header.
 */
export function parseRpmHeader(blob: Buffer): GuestfsApplication2 | undefined {
  if (blob.length < 8) return undefined;
  const count = blob.readUInt32BE(0);
  const dataLength = blob.readUInt32BE(4);
  const store = 8 + 16 * count;
  if (count > 100_000 || store + dataLength > blob.length) return undefined;
  const strings = new Map<number, string>();
  let epoch: number | undefined;
  const wanted = new Set(Object.values(TAG));
  for (let i = 0; i < count; i++) {
    const at = 8 + 16 * i;
    const tag = blob.readUInt32BE(at);
    if (!wanted.has(tag)) continue;
    const type = blob.readUInt32BE(at + 4);
    const offset = store + blob.readUInt32BE(at + 8);
    if (offset >= store + dataLength) continue;
    if (type === INT32 && tag === TAG.epoch && offset + 4 <= blob.length) epoch = blob.readInt32BE(offset);
    else if (type === STRING || type === I18NSTRING) {
      const end = blob.indexOf(0, offset);
      strings.set(tag, blob.toString('utf8', offset, end < 0 ? store + dataLength : end));
    }
  }
  const name = strings.get(TAG.name);
  if (name === undefined) return undefined;
  // librpm formats an absent tag as "(none)"; libguestfs passes that through.
  const text = (tag: number) => strings.get(tag) ?? '(none)';
  return application({
    app2_name: name,
    app2_epoch: epoch ?? 0,
    app2_version: text(TAG.version),
    app2_release: text(TAG.release),
    app2_arch: text(TAG.arch),
    app2_url: text(TAG.url),
    app2_summary: text(TAG.summary),
    app2_description: text(TAG.description),
  });
}

/**
 * Every package of an rpm sqlite database (a host copy: `path`). Rows are read in slices that
 * give the event loop a turn in between, so a large database never stalls the worker.
 */
export async function readRpmSqlite(path: string): Promise<GuestfsApplication2[]> {
  // Loaded here, not with the library: importing 'guestkit-worker' must not load a database driver.
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { fileMustExist: true });
  try {
    const apps: GuestfsApplication2[] = [];
    let n = 0;
    for (const row of db.prepare('SELECT blob FROM Packages').iterate() as IterableIterator<{
      blob: Buffer;
    }>) {
      const app = parseRpmHeader(row.blob);
      if (app) apps.push(app);
      if (++n % 256 === 0) await yieldToLoop();
    }
    return apps.sort(byName);
  } finally {
    db.close();
  }
}

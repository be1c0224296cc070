// The `guestkit-worker explore` files view driven in tmux (send-keys / capture-pane) on a real
// appliance, one launch: open an image, go into /etc, filter to os-release, view it; then a binary
// file as hex and its info; quit. Every step waits for the screen to show its result and asserts
// on the capture; the appliance is gone once the view quits.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExploreImages, type ExploreImages } from '../explore/fixture.js';
import { buildDist, cleanupDist, mainJs } from './api-helpers.js';

const SOCKET = `guestkit-explore-tui-${process.pid}`;
let dir: string;
let images: ExploreImages;

const tmux = (...args: string[]): string =>
  execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const screen = (): string => tmux('capture-pane', '-p', '-t', 'ex');
const keys = (...k: string[]): void => void tmux('send-keys', '-t', 'ex', ...k);

/** Waits until the screen satisfies `ok` (a bound for a stuck view, not a speed check). */
async function until(what: string, ok: (s: string) => boolean): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const s = screen();
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`the screen never showed ${what}:\n${s}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The qemu processes under `pid` (the pane's shell → the CLI → its appliance). */
function qemuUnder(pid: number): number[] {
  const kids = readdirSync(`/proc/${pid}/task`).flatMap((t) => {
    try {
      return readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  });
  return kids.flatMap((k) => {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${k}/cmdline`, 'utf8');
    } catch {
      return [];
    }
    return [...(cmd.includes('qemu') ? [k] : []), ...qemuUnder(k)];
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  buildDist();
  dir = await mkdtemp(join(tmpdir(), 'explore-tui-'));
  images = await buildExploreImages(dir);
});
afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    /* already gone */
  }
  cleanupDist();
  await rm(dir, { recursive: true, force: true });
});

const rows = (s: string) => s.split('\n');
const status = (s: string) =>
  rows(s)
    .filter((l) => l.trim() !== '')
    .at(-1) ?? '';

describe('guestkit-worker explore files view (tmux)', () => {
  it('opens an image, goes into /etc, filters to os-release, views it, shows hex and info, quits', async () => {
    const cmd = `env GUESTKIT_WORKER_API_URL= ${process.execPath} ${mainJs()} explore ${images.os} --format raw; echo "EXIT=$?"; sleep 600`;
    tmux('new-session', '-d', '-s', 'ex', '-x', '120', '-y', '30', cmd);

    let s = await until('the root listing', (x) => /20\/20 items/.test(x));
    expect(rows(s)[0]).toMatch(/guestkit explore .*explore-os\.img .* \/\s*$/);
    expect(s).toMatch(/^>bin@ /m);
    expect(s).toMatch(/^ etc\/ /m);
    const appliance = qemuUnder(Number(tmux('list-panes', '-t', 'ex', '-F', '#{pane_pid}').trim()));
    expect(appliance).toHaveLength(1);

    keys('/', 'etc', 'Enter');
    s = await until('the filter applied', (x) => /filter: etc/.test(status(x)));
    expect(s).toMatch(/^>etc\/ /m);
    expect(s).not.toMatch(/^ (bin|usr|home)/m);

    keys('Enter');
    s = await until(
      '/etc listed',
      (x) => /\/etc\s*$/.test(rows(x)[0]) && / items /.test(status(x)) && !/filter:/.test(status(x)),
    );
    expect(s).toMatch(/^ os-release@ /m);
    expect(s).toMatch(/^ shadow /m);

    keys('/', 'os-release', 'Enter');
    s = await until('os-release alone', (x) => /^1\/\d+ items .*filter: os-release/.test(status(x)));
    expect(s).toMatch(/^>os-release@ /m);

    keys('v');
    s = await until('the preview', (x) => x.includes('PRETTY_NAME'));
    // Text with line numbers; the symlink (to ../usr/lib/os-release) followed inside the guest.
    expect(s).toMatch(/── \/etc\/os-release \(text, \d+ bytes\)/);
    expect(s).toMatch(/│ 1 │ PRETTY_NAME="Debian GNU\/Linux 12 \(bookworm\)"/);
    expect(s).toMatch(/│ 6 │ ID="debian"/);

    // Esc closes the pane, Esc clears the filter, Backspace goes up with /etc selected.
    keys('Escape');
    await until('the pane closed', (x) => x.includes('Enter or v: view'));
    keys('Escape');
    await until('the filter cleared', (x) => !/filter:/.test(status(x)));
    keys('BSpace');
    s = await until('back at /', (x) => /20\/20 items/.test(x));
    expect(s).toMatch(/^>etc\/ /m);

    keys('/', 'srv', 'Enter');
    await until('srv', (x) => /^>srv\/ /m.test(x) && /filter: srv/.test(status(x)));
    keys('Enter');
    await until(
      '/srv',
      (x) => /\/srv\s*$/.test(rows(x)[0]) && /^>data\//m.test(x) && / items /.test(status(x)),
    );
    keys('Enter');
    await until('/srv/data', (x) => /\/srv\/data\s*$/.test(rows(x)[0]) && /^ blob\.bin /m.test(x));
    keys('/', 'blob', 'Enter');
    await until('blob.bin', (x) => /^>blob\.bin /m.test(x));
    keys('v');
    s = await until('the hex view', (x) => x.includes('binary, hex'));
    expect(s).toMatch(/│ 00000000 {2}7f 45 4c 46 02 01 01 00 {2}/);
    expect(s).toContain('|.ELF');

    keys('i');
    s = await until('the info pane', (x) => x.includes('Path:     /srv/data/blob.bin'));
    expect(s).toMatch(/Size: {5}4096 bytes/);
    expect(s).toMatch(/Mode: {5}-rw-r--r--/);

    keys('h');
    s = await until('the help', (x) => x.includes('Backspace      parent directory'));

    keys('q');
    s = await until('the command to end', (x) => /EXIT=\d+/.test(x));
    expect(s).toContain('EXIT=0');
    // Quitting closed the session: its appliance is gone.
    await until('the appliance to be gone', () => !alive(appliance[0]));
  }, 600_000);
});

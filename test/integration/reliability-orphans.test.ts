// The start-up sweep on its own: a fake appliance (an executable named qemu-system-x86_64 whose
// command line names a libguestfs temp dir) whose parent died is killed and its temp dir removed;
// one whose parent is a live node process, and that process's temp dir, are left alone.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sweepOrphanAppliances } from '../../src/worker/orphans.js';

const dir = mkdtempSync(join(tmpdir(), 'gk-rel-orphans-'));
const fakeQemu = join(dir, 'qemu-system-x86_64');
// tail -F keeps running whatever paths it is given (they need not exist).
copyFileSync('/usr/bin/tail', fakeQemu);
const pids: number[] = [];
afterAll(() => {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describe('orphan appliance sweep', () => {
  it('kills appliances whose worker died and removes their temp dirs, never a live worker’s', async () => {
    const app = join(dir, 'app');
    for (const d of ['libguestfsDEAD01', 'libguestfsLIVE01', 'libguestfsIDLE01'])
      mkdirSync(join(app, d), { recursive: true });
    // Orphan: started by a shell that exits at once, so it is re-parented.
    const sh = spawnSync(
      'sh',
      ['-c', `"${fakeQemu}" -F /dev/null ${app}/libguestfsDEAD01/overlay1.qcow2 >/dev/null 2>&1 & echo $!`],
      { encoding: 'utf8' },
    );
    const orphan = Number(sh.stdout.trim());
    pids.push(orphan);
    // Live: a child of this (node) process.
    const live = spawn(fakeQemu, ['-F', '/dev/null', `${app}/libguestfsLIVE01/overlay1.qcow2`], {
      stdio: 'ignore',
    });
    pids.push(live.pid!);
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(orphan)).toBe(true);

    // Young unreferenced dirs stay (a handle may be about to launch)…
    const first = await sweepOrphanAppliances({ tmpdir: app });
    expect(first.killed).toEqual([orphan]);
    expect(first.removed).toEqual([join(app, 'libguestfsDEAD01')]);
    expect(existsSync(join(app, 'libguestfsIDLE01'))).toBe(true);
    // …old ones go; the live appliance and its dir are untouched throughout.
    const second = await sweepOrphanAppliances({ tmpdir: app, minAgeMs: 0 });
    expect(second.killed).toEqual([]);
    expect(second.removed).toEqual([join(app, 'libguestfsIDLE01')]);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(orphan)).toBe(false);
    expect(alive(live.pid!)).toBe(true);
    expect(existsSync(join(app, 'libguestfsLIVE01'))).toBe(true);
  });
});

// Start-up sweep of what a killed worker (kill -9, OOM, power cut of the node process only) leaves
// behind: qemu appliances still running for nobody, and libguestfs temp dirs (overlays, downloads)
// in the app-owned tmpdir `<os tmpdir>/guestkit-worker-<uid>`. libguestfs's recovery process
// usually kills qemu ~1 s after its parent dies, but it dies with a SIGKILL of the process group
// and cannot be relied on. The tmpdir is shared by every worker of this user, so only appliances
// whose parent is no longer a node process (re-parented to init or a subreaper) count as orphans,
// and only temp dirs that no live process names and that are old enough are removed.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.js';

export interface OrphanSweepOptions {
  /** The app tmpdir; default `<os tmpdir>/guestkit-worker-<uid>` (what lib/guestfs.ts uses). */
  tmpdir?: string;
  /** Unreferenced temp dirs younger than this stay (a handle may be about to start qemu). Default 5 min. */
  minAgeMs?: number;
  logger?: Logger;
}

export interface OrphanSweepResult {
  killed: number[];
  removed: string[];
}

export function appTmpdir(): string {
  return join(tmpdir(), `guestkit-worker-${process.getuid?.() ?? 'user'}`);
}

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [statText, cmdline] = await Promise.all([
        readFile(`/proc/${name}/stat`, 'utf8'),
        readFile(`/proc/${name}/cmdline`, 'utf8'),
      ]);
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split at the last ')'.
      const close = statText.lastIndexOf(')');
      const comm = statText.slice(statText.indexOf('(') + 1, close);
      const ppid = Number(statText.slice(close + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, comm, cmdline: cmdline.replace(/\0/g, ' ') });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Kills orphaned appliances of the app tmpdir and removes temp dirs nobody uses. Never throws. */
export async function sweepOrphanAppliances(options: OrphanSweepOptions = {}): Promise<OrphanSweepResult> {
  const dir = options.tmpdir ?? appTmpdir();
  const minAgeMs = options.minAgeMs ?? 5 * 60_000;
  const result: OrphanSweepResult = { killed: [], removed: [] };
  if (process.platform !== 'linux') return result;
  const procs = await processes();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const prefix = `${dir}/libguestfs`;
  const staleDirs = new Set<string>();
  for (const p of procs) {
    if (!p.comm.startsWith('qemu-system') || !p.cmdline.includes(prefix)) continue;
    const parent = byPid.get(p.ppid);
    if (p.ppid !== 1 && parent?.comm === 'node') continue; // a live worker's appliance
    try {
      process.kill(p.pid, 'SIGKILL');
      result.killed.push(p.pid);
      for (const m of p.cmdline.matchAll(/libguestfs[A-Za-z0-9]{6}/g)) staleDirs.add(m[0]);
    } catch {
      // gone already, or not ours to kill
    }
  }
  const live = procs.filter((p) => !result.killed.includes(p.pid)).map((p) => p.cmdline);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^libguestfs[A-Za-z0-9]{6}$/.test(name)) continue;
    const path = join(dir, name);
    if (!staleDirs.has(name)) {
      if (live.some((c) => c.includes(path))) continue;
      const st = await stat(path).catch(() => undefined);
      if (!st || Date.now() - st.mtimeMs < minAgeMs) continue;
    }
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    result.removed.push(path);
  }
  if (result.killed.length > 0 || result.removed.length > 0) {
    options.logger?.warn(
      { killed_pids: result.killed, removed_dirs: result.removed.length, tmpdir: dir },
      'removed appliances and temp dirs left by a worker that died',
    );
  }
  return result;
}

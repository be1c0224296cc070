// The appliance pool's scheduling logic (batching, splitting over cores, isolation, launch
// failures, cancellation, clone conflicts) over a scripted stand-in for the libguestfs handle:
// no appliance is launched here; test/integration/inspect.test.ts runs the same pool for real.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppliancePool, diskOfDevice } from '../../lib/appliance/index.js';
import { namesPath } from '../../lib/appliance/holds.js';
import { FakeAppliance, fakePool, sleep } from './fake-appliance.js';

// Virtual time: a timer fires only once nothing else is left to run, so what happens "within
// 40 ms" is decided by the pool's timers, never by how loaded the machine is.
beforeEach(() => {
  vi.useFakeTimers();
  vi.setTimerTickMode('nextTimerAsync');
});
afterEach(() => {
  vi.useRealTimers();
});

const makePool = fakePool;

const rootsOf = (pool: AppliancePool, path: string, group?: string, shareable?: boolean) =>
  pool.run([{ path }], async (lease) => ({ devices: lease.devices, roots: await lease.roots() }), {
    group,
    shareable,
  });

describe('appliance pool scheduling', () => {
  it('gathers concurrent requests into one appliance and runs inspect_os once for all of them', async () => {
    const pool = makePool();
    const results = await Promise.all(['os-a', 'os-b', 'empty-c', 'os-d'].map((p) => rootsOf(pool, p)));
    expect(FakeAppliance.all).toHaveLength(1);
    expect(FakeAppliance.all[0].inspectCalls).toBe(1);
    expect(results).toEqual([
      { devices: ['/dev/sda'], roots: ['/dev/sda1'] },
      { devices: ['/dev/sdb'], roots: ['/dev/sdb1'] },
      { devices: ['/dev/sdc'], roots: [] },
      { devices: ['/dev/sdd'], roots: ['/dev/sdd1'] },
    ]);
    await sleep(10); // the appliance closes right after its last lease answered
    expect(FakeAppliance.all[0].closed).toBe(true);
    expect(pool.status()).toMatchObject({ appliances: 0, queued: 0, running: 0, launches: 1 });
  });

  it('spreads one batch over idle appliance slots and respects the drive limit', async () => {
    const pool = makePool({ appliances: 2 });
    await Promise.all(['os-1', 'os-2', 'os-3', 'os-4'].map((p) => rootsOf(pool, p)));
    expect(FakeAppliance.all.map((a) => a.drives.length).sort()).toEqual([2, 2]);

    const small = makePool({ appliances: 1, drives: 2 });
    await Promise.all(['os-1', 'os-2', 'os-3', 'os-4', 'os-5'].map((p) => rootsOf(small, p)));
    expect(FakeAppliance.all.map((a) => a.drives.length)).toEqual([2, 2, 1]);
  });

  it('when a slot frees, waits one window so jobs started by the finished ones join the next launch', async () => {
    const pool = makePool({ appliances: 1, windowMs: 20, launchMs: 30 });
    const first = rootsOf(pool, 'os-1');
    await sleep(30);
    const second = rootsOf(pool, 'os-2'); // waits for the slot
    await first;
    const third = rootsOf(pool, 'os-3'); // what a worker starts when the first job ended
    await Promise.all([second, third]);
    expect(FakeAppliance.all.map((a) => a.drives)).toEqual([['os-1'], ['os-2', 'os-3']]);
  });

  it('keeps groups apart and gives unshareable requests an appliance of their own', async () => {
    const pool = makePool();
    await Promise.all([
      rootsOf(pool, 'os-a1', 'tenant-a'),
      rootsOf(pool, 'os-b1', 'tenant-b'),
      rootsOf(pool, 'os-a2', 'tenant-a'),
      rootsOf(pool, 'os-private', 'tenant-a', false),
    ]);
    const sets = FakeAppliance.all.map((a) => a.drives.join(',')).sort();
    expect(sets).toEqual(['os-a1,os-a2', 'os-b1', 'os-private']);
  });

  it('fails only the drive qemu named and answers the others from a retry', async () => {
    const pool = makePool();
    const [good, bad, other] = await Promise.allSettled([
      rootsOf(pool, 'os-good'),
      rootsOf(pool, 'os-bad'),
      rootsOf(pool, 'os-other'),
    ]);
    expect(good).toMatchObject({ status: 'fulfilled', value: { roots: ['/dev/sda1'] } });
    expect(other).toMatchObject({ status: 'fulfilled', value: { roots: ['/dev/sdb1'] } });
    expect(bad.status).toBe('rejected');
    const err = (bad as PromiseRejectedResult).reason as { code: string; message: string };
    expect(err.code).toBe('APPLIANCE_ERROR');
    expect(err.message).toContain('os-bad');
    expect(err.message).toContain('Could not open');
    expect(pool.status().launchFailures).toBe(1);
  });

  it('retries each drive alone when a shared launch fails without naming one', async () => {
    const pool = makePool();
    const out = await Promise.allSettled(['os-a', 'os-poison', 'os-b'].map((p) => rootsOf(pool, p)));
    expect(out.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // 1 shared launch + one solo launch per drive
    expect(FakeAppliance.all).toHaveLength(4);
    expect(FakeAppliance.all.slice(1).every((a) => a.drives.length === 1)).toBe(true);
  });

  it('moves fstab device names (/dev/sda2 = the image’s own disk) onto the drive instead of relaunching', async () => {
    const pool = makePool();
    const mps = (p: string) => pool.run([{ path: p }], async (l) => l.mountpoints((await l.roots())[0]));
    const [first, second] = await Promise.all([mps('os-devname-1'), mps('os-devname-2')]);
    expect(first).toEqual({ '/': '/dev/sda1', '/boot': '/dev/sda2' });
    expect(second).toEqual({ '/': '/dev/sdb1', '/boot': '/dev/sdb2' });
    expect(FakeAppliance.all).toHaveLength(1);
  });

  it("moves a root's filesystems named by device onto its drive too", async () => {
    const pool = makePool();
    const fses = (p: string) => pool.run([{ path: p }], async (l) => l.filesystems((await l.roots())[0]));
    const [first, second] = await Promise.all([fses('os-devname-1'), fses('os-devname-2')]);
    expect(first).toEqual(['/dev/sda1', '/dev/sda2']);
    expect(second).toEqual(['/dev/sdb1', '/dev/sdb2']);
    expect(FakeAppliance.all).toHaveLength(1);
  });

  it('inspects the second copy alone when two drives hold the same filesystem UUIDs', async () => {
    const pool = makePool();
    const [, first, twin] = await Promise.all([
      rootsOf(pool, 'os-a'),
      rootsOf(pool, 'os-twin-1'),
      rootsOf(pool, 'os-twin-2'),
    ]);
    expect(first.roots).toEqual(['/dev/sdb1']);
    expect(twin).toEqual({ devices: ['/dev/sda'], roots: ['/dev/sda1'] });
    expect(FakeAppliance.all.map((a) => a.drives)).toEqual([
      ['os-a', 'os-twin-1', 'os-twin-2'],
      ['os-twin-2'],
    ]);
  });

  it('inspects a clone alone when its fstab resolves into another drive', async () => {
    const pool = makePool();
    const [, first, clone] = await Promise.all([
      rootsOf(pool, 'os-a'),
      rootsOf(pool, 'os-clone-1'),
      rootsOf(pool, 'os-clone-2'),
    ]);
    expect(first.roots).toEqual(['/dev/sdb1']);
    // Re-run in an appliance of its own: alone it is /dev/sda again.
    expect(clone).toEqual({ devices: ['/dev/sda'], roots: ['/dev/sda1'] });
    expect(FakeAppliance.all.map((a) => a.drives)).toEqual([
      ['os-a', 'os-clone-1', 'os-clone-2'],
      ['os-clone-2'],
    ]);
  });
});

describe('appliance pool cancellation', () => {
  it('drops a queued request at once without launching for it', async () => {
    const pool = makePool({ windowMs: 200 });
    const ctl = new AbortController();
    const p = rootsOf(pool, 'os-a', undefined, undefined);
    const cancelled = pool.run([{ path: 'os-b' }], async () => 'never', { signal: ctl.signal });
    await sleep(5);
    expect(pool.status().queued).toBe(2);
    ctl.abort(new Error('cancelled by test'));
    await expect(cancelled).rejects.toThrow('cancelled by test');
    await p;
    expect(FakeAppliance.all[0].drives).toEqual(['os-a']);
  });

  it('kills the appliance when its only request is cancelled, but not while another still needs it', async () => {
    const pool = makePool({ launchMs: 80 });
    const alone = new AbortController();
    const p1 = pool.run([{ path: 'os-alone' }], async () => 'x', { signal: alone.signal, shareable: false });
    await sleep(40); // launching
    alone.abort(new Error('timeout'));
    await expect(p1).rejects.toThrow('timeout');
    expect(FakeAppliance.all[0].killed).toBe(true);

    const shared = makePool({ launchMs: 80 });
    const ctl = new AbortController();
    const a = shared.run([{ path: 'os-a' }], (l) => l.roots(), { signal: ctl.signal });
    const b = rootsOf(shared, 'os-b');
    await sleep(60);
    ctl.abort(new Error('cancel a'));
    await expect(a).rejects.toThrow('cancel a');
    expect(FakeAppliance.all[0].killed).toBe(false);
    expect(await b).toEqual({ devices: ['/dev/sdb'], roots: ['/dev/sdb1'] });
    await sleep(10);
    expect(FakeAppliance.all[0].closed).toBe(true);
  });

  it('a job leaving during a shared launch may close its descriptors: qemu still opens the checked files', async () => {
    // Jobs hand over the images they checked as /proc/<pid>/fd/N. One leaves (a checksum
    // mismatch) while the appliance starts and closes its descriptor; the number is reused at
    // once. Its neighbour's launch must neither fail nor attach the file that took the number.
    const dir = mkdtempSync(join(tmpdir(), 'gk-holds-'));
    const file = (name: string) => {
      writeFileSync(join(dir, name), `content of ${name}`);
      return open(join(dir, name), 'r');
    };
    const [a, b] = [await file('checked-a'), await file('checked-b')];
    const pathOf = (h: FileHandle) => `/proc/${process.pid}/fd/${h.fd}`;
    const pool = makePool({ launchMs: 80 });
    const leaving = new AbortController();
    const first = pool.run([{ path: pathOf(a) }], async () => 'never', { signal: leaving.signal });
    const second = pool.run([{ path: pathOf(b) }], async (l) => l.devices);
    while (FakeAppliance.all[0]?.drives.length !== 2) await sleep(1); // qemu is starting
    leaving.abort(new Error('checksum mismatch'));
    await expect(first).rejects.toThrow('checksum mismatch');
    const number = a.fd;
    await a.close();
    const intruder = await file('intruder');
    expect(await second).toEqual(['/dev/sdb']);
    const [appliance] = FakeAppliance.all;
    expect(FakeAppliance.all).toHaveLength(1);
    expect(pool.status().launchFailures).toBe(0);
    expect(appliance.opened).toEqual(['content of checked-a', 'content of checked-b']);
    // The pool opened its own descriptors for the launch and closed them after.
    expect(appliance.drives).not.toContain(`/proc/${process.pid}/fd/${number}`);
    for (const d of appliance.drives)
      expect(existsSync(d) && d !== pathOf(intruder) && d !== pathOf(b)).toBe(false);
    await Promise.all([b.close(), intruder.close()]);
    rmSync(dir, { recursive: true });
  });

  it('rejects everything and kills every appliance on close', async () => {
    const pool = makePool({ launchMs: 200 });
    const running = rootsOf(pool, 'os-a');
    await sleep(60);
    const closing = pool.close();
    await expect(running).rejects.toMatchObject({ code: 'APPLIANCE_ERROR' });
    await closing;
    expect(FakeAppliance.all[0].killed).toBe(true);
    await expect(rootsOf(pool, 'os-b')).rejects.toThrow('closed');
  });
});

describe('diskOfDevice', () => {
  it('maps partitions and btrfs subvolumes to their disk and leaves LVs alone', () => {
    expect(diskOfDevice('/dev/sdb3')).toBe('/dev/sdb');
    expect(diskOfDevice('/dev/sdab')).toBe('/dev/sdab');
    expect(diskOfDevice('/dev/vda1')).toBe('/dev/vda');
    expect(diskOfDevice('btrfsvol:/dev/sdc2/@home')).toBe('/dev/sdc');
    expect(diskOfDevice('/dev/rl/root')).toBe('/dev/rl/root');
  });
});

describe('namesPath', () => {
  it('finds a path in a qemu message only as a whole name', () => {
    const msg =
      "qemu-system-x86_64: -drive file=/proc/12/fd/35,format=raw: Could not open '/img/a.qcow2.bak'";
    expect(namesPath(msg, '/proc/12/fd/35')).toBe(true);
    expect(namesPath(msg, '/proc/12/fd/3')).toBe(false);
    expect(namesPath(msg, '/img/a.qcow2')).toBe(false);
    expect(namesPath(msg, '/img/a.qcow2.bak')).toBe(true);
  });
});

// Reservations of the appliance pool (drives of jobs still pending in the worker's queue joining
// the launch about to be made) over a scripted stand-in for the libguestfs handle: no appliance
// is launched here; test/integration/appliance-reservations.test.ts runs them for real.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppliancePool } from '../../lib/appliance/index.js';
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

// Reservations linger 150 ms here unless a test says otherwise.
const makePool = (opts: Parameters<typeof fakePool>[0] = {}) => fakePool({ lingerMs: 150, ...opts });

const rootsOf = (pool: AppliancePool, path: string, opts: { key?: string; group?: string } = {}) =>
  pool.run([{ path }], async (lease) => ({ devices: lease.devices, roots: await lease.roots() }), {
    reservation: opts.key,
    group: opts.group,
  });

const drivesOf = (all: FakeAppliance[]) => all.map((a) => a.drives);

describe('appliance pool reservations', () => {
  it('attaches reserved drives to the launch; their jobs are then served without another launch', async () => {
    const pool = makePool();
    expect(await pool.reserve('job-r1', [{ path: 'os-r1' }])).toBe(true);
    expect(await pool.reserve('job-r2', [{ path: 'os-r2' }])).toBe(true);
    const live = Promise.all([rootsOf(pool, 'os-a'), rootsOf(pool, 'os-b')]);
    await sleep(40); // launching
    expect(pool.status()).toMatchObject({ appliances: 1, drives: 4, running: 2, reserved: 2 });
    expect(await live).toEqual([
      { devices: ['/dev/sda'], roots: ['/dev/sda1'] },
      { devices: ['/dev/sdb'], roots: ['/dev/sdb1'] },
    ]);
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-a', 'os-b', 'os-r1', 'os-r2']]);
    // The pending jobs start once the first ones finished: their drives are already up.
    expect(await rootsOf(pool, 'os-r1', { key: 'job-r1' })).toEqual({
      devices: ['/dev/sdc'],
      roots: ['/dev/sdc1'],
    });
    // Without a key, the same drives (path, format, readonly, group) claim it too.
    expect(await rootsOf(pool, 'os-r2')).toEqual({ devices: ['/dev/sdd'], roots: ['/dev/sdd1'] });
    expect(FakeAppliance.all).toHaveLength(1);
    expect(FakeAppliance.all[0].inspectCalls).toBe(1);
    await sleep(10); // the last claim answered: nothing holds the appliance any more
    expect(FakeAppliance.all[0].closed).toBe(true);
    expect(pool.status()).toMatchObject({ appliances: 0, reserved: 0, launches: 1 });
  });

  it('a claim arriving while the appliance launches is served in turn after the others', async () => {
    const pool = makePool({ launchMs: 60 });
    await pool.reserve('job-r', [{ path: 'os-r' }]);
    const order: string[] = [];
    const run = (path: string, key?: string) =>
      pool.run([{ path }], async (l) => order.push(`${path}:${l.devices.join()}`), { reservation: key });
    const first = run('os-a');
    await sleep(40); // launching, with os-r attached
    await Promise.all([first, run('os-r', 'job-r')]);
    expect(order).toEqual(['os-a:/dev/sda', 'os-r:/dev/sdb']);
    expect(pool.status().launches).toBe(1);
  });

  it('spreads reserved drives evenly over the appliances launched together, oldest first', async () => {
    const pool = makePool({ appliances: 2 });
    for (const n of [1, 2, 3, 4, 5]) await pool.reserve(`job-r${n}`, [{ path: `os-r${n}` }]);
    const live = Promise.all(['os-1', 'os-2', 'os-3', 'os-4'].map((p) => rootsOf(pool, p)));
    await sleep(40);
    expect(pool.status().reserved).toBe(5);
    await live;
    const sets = drivesOf(FakeAppliance.all).map((d) => d.join(','));
    expect(sets.sort()).toEqual(['os-1,os-3,os-r1,os-r3,os-r5', 'os-2,os-4,os-r2,os-r4']);
  });

  it('lingers a while for reserved jobs, then closes; a later run launches as usual', async () => {
    const pool = makePool({ lingerMs: 100 });
    await pool.reserve('job-r', [{ path: 'os-r' }]);
    await rootsOf(pool, 'os-a');
    await sleep(30);
    expect(FakeAppliance.all[0].closed).toBe(false); // lingering for job-r
    expect(pool.status()).toMatchObject({ appliances: 1, running: 0, reserved: 1 });
    await sleep(120);
    expect(FakeAppliance.all[0].closed).toBe(true);
    expect(pool.status()).toMatchObject({ appliances: 0, reserved: 0 });
    expect(await rootsOf(pool, 'os-r', { key: 'job-r' })).toEqual({
      devices: ['/dev/sda'],
      roots: ['/dev/sda1'],
    });
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-a', 'os-r'], ['os-r']]);
  });

  it('releasing the last reservation of a lingering appliance closes it at once', async () => {
    const pool = makePool({ lingerMs: 5000 });
    const job = new AbortController();
    await pool.reserve('job-r', [{ path: 'os-r' }], { signal: job.signal });
    await rootsOf(pool, 'os-a');
    await sleep(10);
    expect(FakeAppliance.all[0].closed).toBe(false);
    job.abort(); // the pending job was cancelled
    await sleep(10);
    expect(FakeAppliance.all[0].closed).toBe(true);
    expect(pool.status()).toMatchObject({ appliances: 0, reserved: 0 });
  });

  it('kills a launching appliance whose requests and reservations all left', async () => {
    const pool = makePool({ launchMs: 80 });
    const ctl = new AbortController();
    await pool.reserve('job-r', [{ path: 'os-r' }]);
    const a = pool.run([{ path: 'os-a' }], async () => 'x', { signal: ctl.signal });
    await sleep(40); // launching with os-a and os-r
    ctl.abort(new Error('cancel a'));
    await expect(a).rejects.toThrow('cancel a');
    expect(FakeAppliance.all[0].killed).toBe(false); // still held for job-r
    pool.release('job-r');
    expect(FakeAppliance.all[0].killed).toBe(true);
    await sleep(60);
    expect(pool.status()).toMatchObject({ appliances: 0, reserved: 0 });
  });

  it('a release before any launch leaves nothing behind', async () => {
    const pool = makePool();
    await pool.reserve('job-r', [{ path: 'os-r' }]);
    pool.release('job-r');
    await rootsOf(pool, 'os-a');
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-a']]);
  });

  it('never mixes groups, and reserves nothing it cannot probe or must not share', async () => {
    const pool = makePool();
    expect(await pool.reserve('job-b', [{ path: 'os-b' }], { group: 'tenant-b' })).toBe(true);
    expect(await pool.reserve('job-m', [{ path: 'os-missing' }], { group: 'tenant-a' })).toBe(false);
    expect(await pool.reserve('job-i', [{ path: 'os-i' }], { group: 'tenant-a', shareable: false })).toBe(
      false,
    );
    expect(await pool.reserve('job-big', [{ path: 'os-big' }], { maxVirtualSizeBytes: 1024 })).toBe(false);
    await rootsOf(pool, 'os-a', { group: 'tenant-a' });
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-a']]);
    // Its own group's launch takes it.
    await rootsOf(pool, 'os-b2', { group: 'tenant-b' });
    expect(drivesOf(FakeAppliance.all)[1]).toEqual(['os-b2', 'os-b']);
  });

  it('a job whose reservation no appliance holds yet runs normally and drops it', async () => {
    const pool = makePool();
    await pool.reserve('job-r', [{ path: 'os-r' }]);
    await rootsOf(pool, 'os-r', { key: 'job-r' });
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-r']]);
    expect(pool.status().reserved).toBe(0);
  });

  it('a launch that fails on a reserved drive is retried without it', async () => {
    const pool = makePool();
    await pool.reserve('job-bad', [{ path: 'os-bad' }]);
    expect(await rootsOf(pool, 'os-a')).toEqual({ devices: ['/dev/sda'], roots: ['/dev/sda1'] });
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-a', 'os-bad'], ['os-a']]);
    expect(pool.status()).toMatchObject({ launches: 2, launchFailures: 1, reserved: 0 });
  });

  it('a reserved clone is flagged like any drive of the appliance and claimed into a solo retry', async () => {
    const pool = makePool();
    await pool.reserve('job-c2', [{ path: 'os-clone-2' }]);
    const [, first] = await Promise.all([rootsOf(pool, 'os-a'), rootsOf(pool, 'os-clone-1')]);
    expect(first).toEqual({ devices: ['/dev/sdb'], roots: ['/dev/sdb1'] });
    // Its fstab resolved into os-clone-1's drive: re-run alone, where it is /dev/sda again.
    const clone = await rootsOf(pool, 'os-clone-2', { key: 'job-c2' });
    expect(clone).toEqual({ devices: ['/dev/sda'], roots: ['/dev/sda1'] });
    expect(drivesOf(FakeAppliance.all)).toEqual([['os-a', 'os-clone-1', 'os-clone-2'], ['os-clone-2']]);
  });
});

// Handle lifecycle against real appliances: parallel launches, kill() during launch and during
// inspect_os, close() while a call runs, close() removing the socket dir after a kill, and a corrupt
// disk that must reject, never crash.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guestfs, GuestfsError } from '../../lib/index.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { qemuChildren } from './qemu-children.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until a qemu process of this test process exists (the launch reached the VM). */
async function qemuStarted(timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (qemuChildren().length === 0) {
    if (Date.now() > until) throw new Error('qemu never started');
    await sleep(50);
  }
}

/** The rejection of p (an Error saying so when it resolved instead). */
async function rejection(p: Promise<unknown>): Promise<{ err: unknown }> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  return { err };
}

describe('Guestfs lifecycle with real appliances', () => {
  let debian: Fixture;
  let rhel: Fixture;
  let corrupt: Fixture;

  beforeAll(async () => {
    [debian, rhel, corrupt] = await getFixtures(['debian-like', 'rhel-like', 'corrupt']);
  });

  // Handles a failed or timed-out test may leave behind: killed and closed, so no qemu outlives us.
  const opened: Guestfs[] = [];
  const track = (g: Guestfs) => (opened.push(g), g);

  afterAll(async () => {
    for (const g of opened) {
      if (g.closed) continue;
      g.kill();
      await g.close();
    }
    expect(qemuChildren()).toEqual([]);
  });

  it('kill() during launch rejects it with EKILLED (it does not boot on), leaves no qemu, and the handle closes', async () => {
    const g = track(new Guestfs());
    await g.addDrive(debian.path, { readonly: true, format: debian.format });
    const launch = g.launch();
    await qemuStarted();
    expect(g.kill()).toBeGreaterThan(0);
    const { err } = await rejection(launch);
    expect(err).toBeInstanceOf(GuestfsError);
    expect(err).toMatchObject({ code: 'EKILLED', action: 'launch' });
    await expect(g.inspectOs()).rejects.toMatchObject({ code: 'EKILLED' });
    await g.close();
    expect(qemuChildren()).toEqual([]);
  });

  it("close() after a kill removes libguestfs' socket dir (the kill retries spare close's own `rm -rf`)", async () => {
    // kill() keeps signalling the handle thread's children for a while, as qemu may not exist yet
    // early in a launch. close() then forks `rm -rf` of the socket and temp dirs from that thread:
    // a retry that reached it left the dir behind for every cancelled or timed-out job. A socket
    // dir full of files makes that rm slow enough that a retry would certainly reach it.
    const g = track(new Guestfs());
    await g.addDrive(debian.path, { readonly: true, format: debian.format });
    const launch = g.launch();
    await qemuStarted();
    const [qemu] = qemuChildren();
    const sockdir = /path=(\/[^,]*\/libguestfs[A-Za-z0-9]{6})\//.exec(
      readFileSync(`/proc/${qemu}/cmdline`, 'utf8'),
    )?.[1];
    expect(sockdir).toBeDefined();
    for (let i = 0; i < 30_000; i++) writeFileSync(join(sockdir!, `f${i}`), '');
    expect(g.kill()).toBeGreaterThan(0);
    await rejection(launch);
    await g.close();
    expect(existsSync(sockdir!)).toBe(false);
    expect(qemuChildren()).toEqual([]);
  });

  it(
    'launches two handles at once; kill() during inspect_os; close() during a running call',
    {
      timeout: 300_000, // two TCG appliances booting at once on a shared 2-core machine
    },
    async () => {
      const a = track(new Guestfs());
      const b = track(new Guestfs());
      await a.addDrive(debian.path, { readonly: true, format: debian.format });
      await b.addDrive(rhel.path, { readonly: true, format: rhel.format });
      await Promise.all([a.launch(), b.launch()]);
      expect(await a.getState()).toBe(2); // READY
      expect(await b.getState()).toBe(2);

      // kill() while inspect_os runs on the handle thread.
      const inspecting = a.inspectOs();
      await sleep(300);
      a.kill();
      const { err } = await rejection(inspecting);
      expect(err).toMatchObject({ code: 'EKILLED', action: 'inspect_os' });
      await a.close();

      // close() while inspect_os runs: queued behind it, no crash, both settle.
      const roots = b.inspectOs();
      const closing = b.close();
      expect(await roots).toEqual(['/dev/sda2']);
      await closing;
      await expect(b.inspectOs()).rejects.toMatchObject({ code: 'ECLOSED' });
      expect(qemuChildren()).toEqual([]);
    },
  );

  it('rejects the launch of a corrupt qcow2 instead of crashing', async () => {
    // probe: false hands the image to libguestfs itself (open() would refuse it first: see
    // guestfs-open.test.ts); this is about the native side surviving it.
    const err = await Guestfs.open({ path: corrupt.path, format: 'qcow2' }, { probe: false }).then(
      async (g) => {
        await g.close();
        return new Error('a corrupt qcow2 launched');
      },
      (e: unknown) => e,
    ); // open() closes the handle itself when the launch fails
    expect(err).toBeInstanceOf(GuestfsError);
    expect((err as GuestfsError).message.length).toBeGreaterThan(0);
    expect(['add_drive_opts', 'launch']).toContain((err as GuestfsError).action);
    expect(qemuChildren()).toEqual([]);
  });
});

// The handle runtime without an appliance: configuration, queue order, errors, close/kill
// semantics, events, and that handles (closed or merely dropped) give back their threads.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Guestfs, GuestfsError } from '../../lib/index.js';
import { addonPath } from '../../lib/native.js';

const threads = (): number => readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settleThreads(target: number): Promise<number> {
  for (let i = 0; i < 100 && threads() > target; i++) await sleep(20);
  return threads();
}

describe('Guestfs handle (no appliance)', () => {
  it('applies the default and explicit options on the handle thread', async () => {
    const g = await Guestfs.create({ memsize: 768, smp: 2 });
    try {
      expect(await g.getBackend()).toBe('direct');
      expect(await g.getBackendSettings()).toEqual(process.env.GUESTKIT_KVM === '1' ? [] : ['force_tcg']);
      expect(await g.getMemsize()).toBe(768);
      expect(await g.getSmp()).toBe(2);
      expect(await g.getNetwork()).toBe(false);
      // The appliance cache must stay where libguestfs keeps it, or it is rebuilt (680 MB, +9 s).
      expect(await g.getCachedir()).toBe(process.env.LIBGUESTFS_CACHEDIR ?? '/var/tmp');
      expect(await g.getTmpdir()).toMatch(/\/guestkit-worker-\d+$/);
      expect(await g.getState()).toBe(0); // CONFIG
    } finally {
      await g.close();
    }
  });

  it('rejects create() with an option libguestfs refuses', async () => {
    const err = await Guestfs.create({ memsize: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestfsError);
    expect((err as GuestfsError).message).toMatch(/handle setup failed.*memsize/);
    expect(() => new Guestfs({ memsize: 'big' as unknown as number })).toThrow(/memsize/);
  });

  it('rejects calls before launch with a state error, and bad arguments with EINVAL', async () => {
    const g = new Guestfs();
    try {
      const notLaunched = await g.cat('/etc/hostname').catch((e: unknown) => e);
      expect(notLaunched).toBeInstanceOf(GuestfsError);
      expect(notLaunched).toMatchObject({ code: 'ENOTLAUNCHED', action: 'cat' });

      // Argument errors reject (every action is async) rather than throw.
      const p = g.cat(42 as unknown as string);
      expect(p).toBeInstanceOf(Promise);
      await expect(p).rejects.toMatchObject({
        code: 'EINVAL',
        action: 'cat',
        message: /'path' must be a string/,
      });
      await expect(g.addDrive('/dev/null', { fromat: 'raw' } as never)).rejects.toMatchObject({
        code: 'EINVAL',
        message: /unknown option 'fromat'/,
      });
      await expect(g.addDrive('/dev/null', { readonly: 1 } as never)).rejects.toThrow(
        /'readonly' must be a boolean/,
      );
      await expect(g.setMemsize('1' as never)).rejects.toThrow(/must be an integer/);
      // The optargs path: only given fields are set.
      await g.addDrive('/dev/null', { readonly: true, format: 'raw' });
      await g.addDriveScratch(1024 * 1024, { label: 'scratch' });
      await expect(g.addDrive('/nonexistent/disk.img')).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await g.close();
    }
  });

  it('runs queued calls in submission order', async () => {
    const g = new Guestfs();
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? g.setMemsize(300 + i) : g.getMemsize()).then(() => order.push(i)),
      ),
    );
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await g.getMemsize()).toBe(349);
    expect(g.pending).toBe(0);
    await g.close();
  });

  it('close() is queued behind calls, idempotent, and later calls reject with ECLOSED', async () => {
    const g = new Guestfs();
    const before = g.getMemsize();
    const c1 = g.close();
    const c2 = g.close();
    expect(g.closed).toBe(true);
    expect(typeof (await before)).toBe('number'); // queued before close: still ran
    await Promise.all([c1, c2]);
    await g.close();
    await expect(g.getMemsize()).rejects.toMatchObject({ code: 'ECLOSED', action: 'get_memsize' });
    const d = new Guestfs();
    await d[Symbol.asyncDispose]();
    expect(d.closed).toBe(true);
  });

  it('kill() with nothing running leaves a handle that only closes', async () => {
    const g = new Guestfs();
    await g.getMemsize();
    expect(g.kill()).toBe(0);
    await expect(g.getMemsize()).rejects.toMatchObject({ code: 'EKILLED' });
    await g.close();
  });

  it('delivers enter and trace events before the call resolves', async () => {
    // Setup calls emit their own events; they are all delivered before ready() resolves.
    const g = await Guestfs.create({ trace: true });
    const seen: string[] = [];
    g.on('enter', (e) => seen.push(`enter:${e.action}`));
    g.on('trace', (e) => seen.push(`trace:${e.message.split(' ')[0]}`));
    await g.setAutosync(true);
    expect(seen).toEqual(['enter:set_autosync', 'trace:set_autosync', 'trace:set_autosync']);
    let closeEvents = 0;
    g.on('close', () => closeEvents++);
    await g.close();
    expect(closeEvents).toBe(1); // emitted inside guestfs_close, delivered before close() resolves
  });

  it('500 create/close cycles without launch keep RSS and the thread count flat', async () => {
    const base = threads();
    for (let i = 0; i < 50; i++) await new Guestfs().close();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 500; i++) await new Guestfs().close();
    const grown = (process.memoryUsage().rss - rss0) / 1048576;
    expect(grown).toBeLessThan(8);
    expect(await settleThreads(base)).toBeLessThanOrEqual(base);
  });

  it('closes a handle that was garbage-collected unclosed, off the JS thread', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const base = threads();
    (() => {
      for (let i = 0; i < 10; i++) void new Guestfs().getMemsize();
    })();
    expect(threads()).toBeGreaterThanOrEqual(base + 10);
    for (let i = 0; i < 20 && threads() > base; i++) {
      gc();
      await sleep(50);
    }
    expect(threads()).toBeLessThanOrEqual(base);
  });

  it('lets the process exit while handles are busy or unclosed (no crash at environment teardown)', () => {
    const script = `
      const a = require(${JSON.stringify(addonPath('guestfs'))});
      for (let i = 0; i < 20; i++) {
        const g = new a.GuestfsHandle({ backendSettings: ['force_tcg'] });
        for (let j = 0; j < 20; j++) g.get_memsize().catch(() => {});
        if (i % 2) g.close();
      }
      if (process.argv[1] === 'exit') setImmediate(() => process.exit(3));`;
    for (const mode of ['natural', 'exit']) {
      const r = spawnSync(process.execPath, ['-e', script, mode], { encoding: 'utf8', timeout: 30_000 });
      expect({ mode, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({
        mode,
        status: mode === 'exit' ? 3 : 0,
        signal: null,
        stderr: '',
      });
    }
  });
});

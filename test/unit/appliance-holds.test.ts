// When the pool cannot re-open a job's descriptor drive for a launch (EMFILE, ENFILE…), a job
// still waiting is attached by its own descriptor (it keeps it open until its run ends), and a
// reservation on such a drive is void (its job probes again when it runs). The failure is made
// here by failing open(2) for chosen paths: the process's descriptor limit cannot be lowered
// from inside Node, and lowering it for a child would fail far more than the pool's re-open.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeAppliance, fakePool, sleep } from './fake-appliance.js';

const refused = new Set<string>();

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    open: (path: string, ...rest: unknown[]) =>
      refused.has(path)
        ? Promise.reject(
            Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), { code: 'EMFILE' }),
          )
        : (real.open as (...a: unknown[]) => Promise<FileHandle>)(path, ...rest),
  };
});

beforeEach(() => {
  vi.useFakeTimers();
  vi.setTimerTickMode('nextTimerAsync');
});
afterEach(() => {
  vi.useRealTimers();
  refused.clear();
});

describe('appliance pool: a drive it cannot re-open', () => {
  it('attaches a waiting job by its own descriptor and voids a reservation on such a drive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-holds-emfile-'));
    const file = (name: string) => {
      writeFileSync(join(dir, name), `content of ${name}`);
      return open(join(dir, name), 'r');
    };
    const [waiting, reserved, fine] = [await file('waiting'), await file('reserved'), await file('fine')];
    const pathOf = (h: FileHandle) => `/proc/${process.pid}/fd/${h.fd}`;
    const pool = fakePool();
    try {
      expect(await pool.reserve('job-reserved', [{ path: pathOf(reserved) }])).toBe(true);
      expect(await pool.reserve('job-fine', [{ path: pathOf(fine) }])).toBe(true);
      refused.add(pathOf(waiting)).add(pathOf(reserved));

      expect(await pool.run([{ path: pathOf(waiting) }], async (l) => l.devices)).toEqual(['/dev/sda']);

      const [appliance] = FakeAppliance.all;
      // The waiting job's own descriptor, and the pool's copy of the reservation it could hold.
      expect(appliance.drives).toHaveLength(2);
      expect(appliance.drives[0]).toBe(pathOf(waiting));
      expect(appliance.drives[1]).not.toBe(pathOf(fine));
      expect(appliance.opened).toEqual(['content of waiting', 'content of fine']);
      // The appliance lingers for the reservation it holds; the void one is not counted.
      expect(pool.status()).toMatchObject({ appliances: 1, reserved: 1 });
      expect(
        await pool.run([{ path: pathOf(fine) }], async (l) => l.devices, { reservation: 'job-fine' }),
      ).toEqual(['/dev/sdb']);
      expect(FakeAppliance.all).toHaveLength(1);

      // The voided job runs as any other: probed again, on a launch of its own (or a shared one).
      refused.clear();
      await sleep(5000); // past the linger: the first appliance is gone
      expect(
        await pool.run([{ path: pathOf(reserved) }], async (l) => l.devices, { reservation: 'job-reserved' }),
      ).toEqual(['/dev/sda']);
      expect(FakeAppliance.all).toHaveLength(2);
      expect(FakeAppliance.all[1].opened).toEqual(['content of reserved']);
      expect(pool.status().launchFailures).toBe(0);
    } finally {
      await pool.close();
      await Promise.all([waiting.close(), reserved.close(), fine.close()]);
      rmSync(dir, { recursive: true });
    }
  });
});

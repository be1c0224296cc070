// The native objects defend themselves against misuse from JS: a method called on a foreign
// object is a TypeError (never a native object read as another class), integers are never
// truncated (EINVAL), and 64-bit results are bigints.
import { describe, expect, it } from 'vitest';
import { createSha256, Guestfs, GuestfsError } from '../../lib/index.js';
import { guestfsAddon, hashAddon } from '../../lib/native.js';

type Method = (this: unknown, ...args: unknown[]) => unknown;
const proto = (cls: unknown): Record<string, Method> =>
  (cls as { prototype: Record<string, Method> }).prototype;
const GuestfsHandle = guestfsAddon().GuestfsHandle;
const Sha256 = hashAddon().Sha256;

describe('native type tags', () => {
  it('refuses a handle method called on a Sha256, and a Sha256 method called on a handle', () => {
    const hasher = createSha256();
    const handle = new (GuestfsHandle as new (o: object) => object)({});
    expect(() => proto(GuestfsHandle).cat!.call(hasher, '/etc/hostname')).toThrow(TypeError);
    expect(() => proto(GuestfsHandle).cat!.call(hasher, '/etc/hostname')).toThrow(
      'GuestfsHandle.prototype.cat called on an object that is not a GuestfsHandle',
    );
    expect(() => proto(GuestfsHandle).kill!.call(hasher)).toThrow(TypeError);
    expect(() => proto(Sha256).update!.call(handle, 'abc')).toThrow(
      'Sha256.prototype.update called on an object that is not a Sha256',
    );
    expect(() => proto(Sha256).digest!.call({})).toThrow(TypeError);
    const pending = Object.getOwnPropertyDescriptor(proto(GuestfsHandle), 'pending')!.get!;
    expect(() => pending.call(hasher)).toThrow(TypeError);
    expect(() => pending.call(Object.create(proto(GuestfsHandle)))).toThrow(TypeError);
    // The objects themselves still work after the refused calls.
    expect(hasher.update('abc').digest()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(proto(GuestfsHandle).kill!.call(handle)).toBe(0);
    return (handle as { close(): Promise<void> }).close();
  });

  it('refuses to abort a hash job that is not one', () => {
    const abort = hashAddon().abortHashFile as (job: unknown) => void;
    expect(() => abort({})).toThrow(TypeError);
    expect(() => abort(createSha256())).toThrow(TypeError);
  });
});

describe('integer arguments', () => {
  it('rejects out-of-range and fractional numbers with EINVAL instead of truncating them', async () => {
    const g = new Guestfs();
    try {
      const einval = (p: Promise<unknown>, message: RegExp) =>
        expect(p).rejects.toMatchObject({ name: 'GuestfsError', code: 'EINVAL', message });
      await einval(
        g.setMemsize(2 ** 32 + 500),
        /'memsize' must be an integer from -2147483648 to 2147483647 \(got 4294967796\)/,
      );
      await einval(g.setMemsize(500.5), /got 500.5/);
      await einval(g.setMemsize(Number.NaN), /'memsize' must be an integer/);
      await einval(g.setMemsize(-(2 ** 31) - 1), /-2147483649/);
      // 64-bit arguments: safe-integer numbers or bigints that fit.
      await einval(g.pread('/f', 16, 2 ** 53), /'offset' must be a safe integer \(a bigint beyond 2\^53\)/);
      await einval(g.pread('/f', 16, 2n ** 63n), /'offset' must fit in 64 bits \(got 9223372036854775808n\)/);
      await einval(g.pread('/f', 2 ** 31, 0), /'count' must be an integer/);
      // Options go through the same check.
      await einval(
        g.mkfs('ext4', '/dev/sda', { blocksize: 2 ** 31 }),
        /option 'blocksize' must be an integer/,
      );
      // In range: the argument is taken and the call only fails for being made before launch.
      await expect(g.pread('/f', 16, 2n ** 62n)).rejects.toMatchObject({ code: 'ENOTLAUNCHED' });
      expect(() => new Guestfs({ smp: 2 ** 32 + 1 })).toThrow(GuestfsError);
      expect(() => new Guestfs({ smp: 2 ** 32 + 1 })).toThrow(/'smp' must be an integer/);
    } finally {
      await g.close();
    }
  });
});

describe('64-bit results', () => {
  it('are bigints, whatever their value', async () => {
    const g = new Guestfs();
    try {
      const pointer = await g.cPointer(); // int64 result that works before launch
      expect(typeof pointer).toBe('bigint');
      expect(pointer).toBeGreaterThan(0n);
      expect(typeof (await g.getMemsize())).toBe('number'); // 32-bit: a number
    } finally {
      await g.close();
    }
  });
});

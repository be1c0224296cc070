// The library entry is light: importing 'guestkit-worker' (the built package, by its name) loads
// none of the worker's server packages and no worker code; the worker entry does. Checked from
// the module graph a fresh process really loaded (scripts/import-probe.mjs).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/native.js';
import { ensureDist } from './daemon-process.js';

const SERVER_PACKAGES = ['fastify', 'bullmq', 'ioredis', 'better-sqlite3', 'prom-client'];

function loadedBy(specifier: string, touch?: 'hash' | 'guestfs'): string[] {
  const out = execFileSync(
    process.execPath,
    [
      join(PACKAGE_ROOT, 'scripts', 'import-probe.mjs'),
      specifier,
      '--modules',
      ...(touch ? ['--touch', touch] : []),
    ],
    { cwd: PACKAGE_ROOT, encoding: 'utf8' },
  );
  return (JSON.parse(out) as { modules: string[] }).modules;
}

const packagesIn = (modules: string[]): Set<string> =>
  new Set(
    modules
      .map((m) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1])
      .filter((p): p is string => p !== undefined),
  );

describe('entry points', () => {
  beforeAll(() => ensureDist());

  it("'guestkit-worker' loads no server package and no worker code, even after hashing", () => {
    for (const touch of [undefined, 'hash'] as const) {
      const modules = loadedBy('guestkit-worker', touch);
      expect(modules).toContain(join(PACKAGE_ROOT, 'dist', 'lib', 'index.js'));
      const packages = packagesIn(modules);
      expect(SERVER_PACKAGES.filter((p) => packages.has(p))).toEqual([]);
      expect(modules.filter((m) => m.startsWith(join(PACKAGE_ROOT, 'dist', 'src')))).toEqual([]);
      if (touch === 'hash') {
        expect(modules.some((m) => m.endsWith('guestkit_hash.node'))).toBe(true);
        expect(modules.some((m) => m.endsWith('guestkit_guestfs.node'))).toBe(false); // loaded lazily
      }
    }
  });

  it("'guestkit-worker' loads the libguestfs binding only with the first Guestfs handle", () => {
    const modules = loadedBy('guestkit-worker', 'guestfs');
    expect(modules.some((m) => m.endsWith('guestkit_guestfs.node'))).toBe(true);
    expect(SERVER_PACKAGES.filter((p) => packagesIn(modules).has(p))).toEqual([]);
  });

  it("'guestkit-worker/worker' is the one that loads the server packages (the probe sees them)", () => {
    const packages = packagesIn(loadedBy('guestkit-worker/worker'));
    expect(SERVER_PACKAGES.filter((p) => packages.has(p))).toEqual(SERVER_PACKAGES);
  });
});

// A library user's first minutes: the packed tarball installs into a fresh folder with no
// compiler on the PATH (prebuilt addons inside the package; the registry is asked only for what the
// npm cache lacks: `npm ci` caches tarballs, not the metadata an install resolves with), then
// a script imports 'guestkit-worker', hashes a file and inspects a fixture image (one launch).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/native.js';
import { getFixture } from '../fixtures/index.js';
import { ensureDist } from './daemon-process.js';

const work = mkdtempSync(join(tmpdir(), 'guestkit-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// Building the fixture (first run in a checkout) is no part of what the test times.
let image: string;
beforeAll(async () => {
  image = (await getFixture('debian-like')).path;
});

// A PATH with what npm and node need, and no g++, cc, make or python3.
function toolPath(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  for (const tool of ['node', 'npm', 'npx', 'sh', 'env', 'cat', 'ls', 'rm', 'mkdir', 'uname', 'qemu-img']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

describe('the packed package', () => {
  it('installs without a compiler, then hashes a file and inspects an image', async () => {
    ensureDist();
    execFileSync('node', ['scripts/prebuild.mjs'], { cwd: PACKAGE_ROOT, stdio: 'ignore' });
    const tarball = execFileSync(
      'npm',
      ['pack', '--ignore-scripts', '--silent', '--pack-destination', work],
      {
        cwd: PACKAGE_ROOT,
        encoding: 'utf8',
      },
    ).trim();
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', type: 'module' }),
    );
    const env = { HOME: process.env.HOME, PATH: toolPath(), LIBGUESTFS_BACKEND: 'direct' };
    expect(
      spawnSync('sh', ['-c', 'command -v g++ || command -v cc || command -v make'], { env }).status,
    ).not.toBe(0);

    const t0 = performance.now();
    const install = spawnSync(
      'npm',
      // --engine-strict: a dependency whose engines exclude this Node fails the install (the
      // EBADENGINE warning a user would otherwise see). --prefer-offline, not --offline: a fresh
      // machine's cache holds no packuments, and the install failed with ENOTCACHED there.
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--engine-strict', join(work, tarball)],
      {
        cwd: app,
        env,
        encoding: 'utf8',
      },
    );
    const installSeconds = (performance.now() - t0) / 1000;
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/EBADENGINE|notsup/);
    console.log(`npm install of the tarball: ${installSeconds.toFixed(1)} s`);

    writeFileSync(
      join(app, 'try.mjs'),
      `import { sha256File, Guestfs, inspectLinux } from 'guestkit-worker';
       const hash = await sha256File('package.json');
       // Plain JavaScript on Node 20: no 'await using' (TypeScript users can write it).
       const g = await Guestfs.open({ path: ${JSON.stringify(image)}, format: 'raw' });
       try {
         const roots = await inspectLinux(g);
         console.log(JSON.stringify({ hash, distro: roots?.[0]?.facts.distro }));
       } finally {
         await g.close();
       }`,
    );
    const run = spawnSync('node', ['try.mjs'], { cwd: app, env, encoding: 'utf8', timeout: 240_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { hash: string; distro: string };
    expect(out.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(out.distro).toBe('debian');
    // pack + install + one appliance launch: 75-175 s measured on this 2-core machine under a full
    // suite's load, more than the default 120 s.
  }, 360_000);
});

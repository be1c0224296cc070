#!/usr/bin/env node
// `npm run prebuild` (and prepack): puts this machine's builds of both addons where node-gyp-build
// looks for prebuilt binaries, native/<concern>/prebuilds/<platform>-<arch>/<name>.napi.<libc>.node
// (prebuildify's layout), stripped. The addons use Node-API 9 only, so one build serves every
// Node version the package supports. Builds incrementally first (node-gyp build), so a checkout
// that is already built packs in seconds.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';

const ADDONS = [
  ['native/sha256', 'guestkit_hash'],
  ['native/guestfs', 'guestkit_guestfs'],
];
const libc = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
for (const [dir, name] of ADDONS) {
  const gyp = [
    'node-gyp',
    ...(existsSync(join(dir, 'build', 'Makefile')) ? [] : ['configure']),
    'build',
    '-j',
    '2',
  ];
  execFileSync('npx', [...gyp, '-C', dir], { stdio: 'inherit' });
  const out = join(dir, 'prebuilds', `${platform()}-${arch()}`);
  mkdirSync(out, { recursive: true });
  const dest = join(out, `${name}.napi.${libc}.node`);
  copyFileSync(join(dir, 'build', 'Release', `${name}.node`), dest);
  execFileSync('strip', ['--strip-unneeded', dest]);
  console.log(`prebuild: ${dest}`);
}

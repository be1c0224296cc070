#!/usr/bin/env node
// npm's install step for this package: nothing to do when a prebuilt binary of each addon matches
// this platform (linux-x64 glibc ships in the package), else build that addon from source with
// node-gyp (needs g++, make, python3, and libguestfs-dev for the libguestfs binding).
// `npm install --build-from-source` builds both. No download ever happens.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build');
const fromSource = process.env.npm_config_build_from_source === 'true';

for (const dir of ['native/sha256', 'native/guestfs']) {
  if (!fromSource) {
    try {
      nodeGypBuild.path(dir);
      continue; // a source build or a matching prebuild is there
    } catch {
      /* none: build it */
    }
  }
  const nodeGyp = process.env.npm_config_node_gyp;
  const [cmd, args] = nodeGyp ? [process.execPath, [nodeGyp]] : ['node-gyp', []];
  console.error(`guestkit-worker: building ${dir} from source (no prebuilt binary for this platform)`);
  const r = spawnSync(cmd, [...args, 'rebuild', '-C', dir], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

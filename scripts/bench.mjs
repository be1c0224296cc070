#!/usr/bin/env node
// `npm run bench -- <name> [args…]`: runs benchmarks/<name>.ts (or <name>/index.ts) with tsx.
// Each benchmark runs the anchor and ours in the same run, prints the ratio and writes
// benchmarks/results/<name>.json (and .md).
//
// The product is measured as it ships: dist/ is rebuilt first and the benchmark's imports of
// src/ and lib/ load it (scripts/bench-release.mjs, also in every process a benchmark starts).
// `--source` runs the TypeScript sources through tsx instead, for a quick look while editing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const fromSource = argv.includes('--source');
const [name, ...rest] = argv.filter((a) => a !== '--source');
const entries = readdirSync('benchmarks')
  .filter((f) => f.endsWith('.ts') || existsSync(`benchmarks/${f}/index.ts`))
  .map((f) => f.replace(/\.ts$/, ''));
if (!name || !entries.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--source]\navailable: ${entries.join(', ')}`);
  process.exit(2);
}
const env = { ...process.env };
if (!fromSource) {
  const build = spawnSync('npm', ['run', '--silent', 'build:ts'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
  // Not for `import`: it times module loading in child processes, which the hook thread would slow.
  if (name !== 'import') {
    const hooks = pathToFileURL('scripts/bench-release.mjs').href;
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --import=${hooks}`.trim();
  }
}
const file = existsSync(`benchmarks/${name}.ts`) ? `benchmarks/${name}.ts` : `benchmarks/${name}/index.ts`;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', file, ...rest], {
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);

#!/usr/bin/env node
// `npm run bench -- <name> [args…]`: runs benchmarks/<name>.ts (or <name>/index.ts) with tsx.
// Each benchmark runs the anchor and ours in the same run, prints the ratio and writes
// benchmarks/results/<name>.json (and .md).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const entries = readdirSync('benchmarks')
  .filter((f) => f.endsWith('.ts') || existsSync(`benchmarks/${f}/index.ts`))
  .map((f) => f.replace(/\.ts$/, ''));
if (!name || !entries.includes(name)) {
  console.error(`usage: npm run bench -- <name>\navailable: ${entries.join(', ')}`);
  process.exit(2);
}
const file = existsSync(`benchmarks/${name}.ts`) ? `benchmarks/${name}.ts` : `benchmarks/${name}/index.ts`;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', file, ...rest], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);

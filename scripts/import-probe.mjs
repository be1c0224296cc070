#!/usr/bin/env node
// Imports one module in this (fresh) process and prints, as JSON, what that cost: wall and CPU
// time of the import, RSS after it, and with --modules every module file it loaded (ES modules
// through a resolve hook, CommonJS ones from require.cache). --touch hash|guestfs then also loads
// that native addon (a first hash / a first Guestfs handle) and reports the extra cost.
// Used by the import benchmark and by the test that keeps the library entry light.
//   node scripts/import-probe.mjs <specifier> [--modules] [--touch hash|guestfs]
import { readFileSync, rmSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { modules: { type: 'boolean', default: false }, touch: { type: 'string' } },
});
const [specifier] = positionals;
if (!specifier) throw new Error('usage: import-probe.mjs <specifier> [--modules] [--touch hash|guestfs]');

const log = join(tmpdir(), `guestkit-import-probe-${process.pid}.txt`);
if (values.modules) {
  register('./import-probe-hooks.mjs', import.meta.url, { data: { log } });
}

const measure = async (fn) => {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { value, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
};

const rssBefore = process.memoryUsage.rss();
const imported = await measure(() => import(specifier));
const out = {
  specifier,
  importMs: imported.ms,
  importCpuMs: imported.cpuMs,
  rssMiB: process.memoryUsage.rss() / 2 ** 20,
  rssGrowthMiB: (process.memoryUsage.rss() - rssBefore) / 2 ** 20,
};
if (values.touch === 'hash') {
  const m = imported.value;
  const touched = await measure(() => m.sha256File(new URL(import.meta.url)));
  Object.assign(out, {
    touchMs: touched.ms,
    touchCpuMs: touched.cpuMs,
    rssAfterTouchMiB: process.memoryUsage.rss() / 2 ** 20,
  });
} else if (values.touch === 'guestfs') {
  const m = imported.value;
  const touched = await measure(async () => {
    const g = new m.Guestfs();
    await g.close();
  });
  Object.assign(out, {
    touchMs: touched.ms,
    touchCpuMs: touched.cpuMs,
    rssAfterTouchMiB: process.memoryUsage.rss() / 2 ** 20,
  });
}
if (values.modules) {
  const esm = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  rmSync(log, { force: true });
  const cjs = Object.keys(createRequire(import.meta.url).cache);
  out.modules = [
    ...new Set([...esm.map((u) => (u.startsWith('file:') ? new URL(u).pathname : u)), ...cjs]),
  ].sort();
}
process.stdout.write(JSON.stringify(out) + '\n');

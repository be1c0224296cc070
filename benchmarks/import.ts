// Cost of importing each entry point in a fresh process: the library ('guestkit-worker') against
// the worker ('guestkit-worker/worker', what the library entry used to load), median of N runs,
// wall and CPU time of the import and RSS after it. Usage: npm run bench -- import [--runs N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../lib/native.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const RUNS = Number(values.runs);
const PROBE = join(PACKAGE_ROOT, 'scripts', 'import-probe.mjs');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Probe {
  importMs: number;
  importCpuMs: number;
  rssMiB: number;
}
const probe = (spec: string): Probe =>
  JSON.parse(execFileSync(process.execPath, [PROBE, spec], { cwd: PACKAGE_ROOT, encoding: 'utf8' })) as Probe;

const load = loadavg()[0]!.toFixed(2);
const rows: Record<string, { ms: number; cpuMs: number; rssMiB: number }> = {};
for (const spec of ['guestkit-worker', 'guestkit-worker/worker']) {
  const runs = Array.from({ length: RUNS }, () => probe(spec));
  rows[spec] = {
    ms: median(runs.map((r) => r.importMs)),
    cpuMs: median(runs.map((r) => r.importCpuMs)),
    rssMiB: median(runs.map((r) => r.rssMiB)),
  };
}
const lib = rows['guestkit-worker']!;
const worker = rows['guestkit-worker/worker']!;
const md = [
  `# Import cost of the entry points (fresh process each, median of ${RUNS})`,
  '',
  `${new Date().toISOString()} · Node ${process.version} · load average ${load}`,
  '',
  '| entry | import wall ms | import CPU ms | RSS after (MiB) |',
  '|---|---|---|---|',
  ...Object.entries(rows).map(
    ([k, r]) => `| ${k} | ${r.ms.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${r.rssMiB.toFixed(1)} |`,
  ),
  '',
  `Ratios library/worker: CPU ${(lib.cpuMs / worker.cpuMs).toFixed(3)}×, RSS ${(lib.rssMiB / worker.rssMiB).toFixed(3)}×`,
].join('\n');
console.log(md);
mkdirSync(join(PACKAGE_ROOT, 'benchmarks', 'results'), { recursive: true });
writeFileSync(join(PACKAGE_ROOT, 'benchmarks', 'results', 'import.md'), md + '\n');
writeFileSync(
  join(PACKAGE_ROOT, 'benchmarks', 'results', 'import.json'),
  JSON.stringify({ runs: RUNS, load, rows }, null, 2) + '\n',
);

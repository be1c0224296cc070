// SHA-256 of a 1 GiB file from the page cache: our native hasher against `openssl dgst`, `sha256sum`
// and Node's createReadStream + createHash, with the event loop's worst lag during each run.
// Usage: npm run bench -- sha256 [--runs N] [--size-mib N]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sha256File } from '../lib/checksum.js';
import { PACKAGE_ROOT } from '../lib/native.js';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, 'size-mib': { type: 'string', default: '1024' } },
});
const RUNS = Number(args.runs);
const SIZE = Number(args['size-mib']) * 1024 * 1024;
const FILE = join(PACKAGE_ROOT, '.cache', 'bench', `sha256-${SIZE / 1024 / 1024}m.bin`);
const RESULTS = join(PACKAGE_ROOT, 'benchmarks', 'results');

function exec(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const firstHex = (out: string): string => /[0-9a-f]{64}/.exec(out)?.[0] ?? '';

function nodeStream(highWaterMark?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(FILE, highWaterMark ? { highWaterMark } : {})
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

// Child-process tools are measured by the lag of the idle parent, in-process ones by their own.
const METHODS: Record<string, () => Promise<string>> = {
  ours: () => sha256File(FILE),
  'openssl dgst -sha256': async () => firstHex(await exec('openssl', ['dgst', '-sha256', FILE])),
  sha256sum: async () => firstHex(await exec('sha256sum', [FILE])),
  'node stream (default hwm)': () => nodeStream(),
  'node stream (4 MiB hwm)': () => nodeStream(4 * 1024 * 1024),
};

interface Run {
  gbps: number;
  maxLagMs: number;
}

async function measure(method: () => Promise<string>): Promise<Run & { hex: string }> {
  await exec('sh', ['-c', `cat '${FILE}' > /dev/null`]); // re-warm the page cache
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const started = performance.now();
  const hex = await method();
  const seconds = (performance.now() - started) / 1000;
  lag.disable();
  return { hex, gbps: SIZE / seconds / 1e9, maxLagMs: lag.max / 1e6 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function ensureFile(): Promise<void> {
  if (existsSync(FILE) && statSync(FILE).size === SIZE) return;
  mkdirSync(join(PACKAGE_ROOT, '.cache', 'bench'), { recursive: true });
  console.log(`creating ${FILE} (${SIZE} random bytes)…`);
  await exec('sh', ['-c', `head -c ${SIZE} /dev/urandom > '${FILE}.tmp' && mv '${FILE}.tmp' '${FILE}'`]);
}

async function opensslCeiling(): Promise<number> {
  const out = await exec('openssl', ['speed', '-evp', 'sha256', '-bytes', '1048576', '-seconds', '2']);
  const k = /sha256\s+([\d.]+)k/i.exec(out)?.[1];
  return k ? (Number(k) * 1000) / 1e9 : NaN;
}

await ensureFile();
const loadBefore = loadavg();
const runs: Record<string, Run[]> = Object.fromEntries(Object.keys(METHODS).map((m) => [m, []]));
let reference = '';
// Rounds interleave the methods so background load hits them all alike.
for (let round = 0; round < RUNS; round++) {
  for (const [name, method] of Object.entries(METHODS)) {
    const { hex, ...run } = await measure(method);
    reference ||= hex;
    if (hex !== reference) throw new Error(`${name} computed ${hex}, expected ${reference}`);
    runs[name].push(run);
    console.log(
      `round ${round + 1} ${name}: ${run.gbps.toFixed(2)} GB/s, max lag ${run.maxLagMs.toFixed(1)} ms`,
    );
  }
}
const ceiling = await opensslCeiling();
const loadAfter = loadavg();

const summary = Object.fromEntries(
  Object.entries(runs).map(([name, rs]) => [
    name,
    {
      median_gbps: Number(median(rs.map((r) => r.gbps)).toFixed(3)),
      median_max_lag_ms: Number(median(rs.map((r) => r.maxLagMs)).toFixed(2)),
      worst_max_lag_ms: Number(Math.max(...rs.map((r) => r.maxLagMs)).toFixed(2)),
      runs_gbps: rs.map((r) => Number(r.gbps.toFixed(3))),
    },
  ]),
);
const ours = summary.ours;
const ratios = {
  ours_vs_openssl: Number((ours.median_gbps / summary['openssl dgst -sha256'].median_gbps).toFixed(3)),
  ours_vs_node_stream: Number(
    (ours.median_gbps / summary['node stream (default hwm)'].median_gbps).toFixed(3),
  ),
  ours_vs_ceiling: Number((ours.median_gbps / ceiling).toFixed(3)),
};
const targets = {
  'ours ≥ 1.35× openssl dgst': ratios.ours_vs_openssl >= 1.35,
  'ours ≥ 1.9× node stream (default hwm)': ratios.ours_vs_node_stream >= 1.9,
  'ours max lag ≤ node stream max lag':
    ours.median_max_lag_ms <= summary['node stream (default hwm)'].median_max_lag_ms,
};
const report = {
  date: new Date().toISOString(),
  file_bytes: SIZE,
  runs_per_method: RUNS,
  sha256: reference,
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    node: process.version,
    openssl: process.versions.openssl,
  },
  load_average: {
    before: loadBefore.map((l) => Number(l.toFixed(2))),
    after: loadAfter.map((l) => Number(l.toFixed(2))),
  },
  openssl_speed_evp_sha256_gbps: Number(ceiling.toFixed(3)),
  methods: summary,
  ratios,
  targets,
};

mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'sha256.json'), `${JSON.stringify(report, null, 2)}\n`);
const rows = Object.entries(summary).map(
  ([name, s]) =>
    `| ${name} | ${s.median_gbps.toFixed(2)} | ${s.median_max_lag_ms.toFixed(1)} | ${s.worst_max_lag_ms.toFixed(1)} |`,
);
const md = [
  `# SHA-256 of a ${SIZE / 1024 / 1024} MiB file (page cache warm), ${RUNS} runs each`,
  '',
  `${report.date} · ${report.machine.cpu} × ${report.machine.cores} · Node ${process.version} · ` +
    `load average ${loadBefore[0].toFixed(2)} → ${loadAfter[0].toFixed(2)} (cores shared with other work)`,
  '',
  '| method | median GB/s | median max event-loop lag (ms) | worst max lag (ms) |',
  '|---|---|---|---|',
  ...rows,
  '',
  `\`openssl speed -evp sha256\` (1 MiB blocks, one core, the ceiling): ${ceiling.toFixed(2)} GB/s`,
  '',
  `Ratios: ours/openssl dgst ${ratios.ours_vs_openssl}×, ours/node stream ${ratios.ours_vs_node_stream}×, ` +
    `ours/ceiling ${ratios.ours_vs_ceiling}×`,
  '',
  ...Object.entries(targets).map(([t, ok]) => `- ${ok ? 'met' : 'MISSED'}: ${t}`),
  '',
  "Lag of the child-process tools is the idle parent's; the in-process ones show their own.",
  '',
].join('\n');
writeFileSync(join(RESULTS, 'sha256.md'), md);
console.log(`\n${md}`);

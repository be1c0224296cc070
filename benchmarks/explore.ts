// Explore: once a session is open, a directory listing and a 4 KiB read each answer in
// milliseconds (goal: < 50 ms p50), against one `virt-ls -l` and one `virt-cat` of the same image
// in the same run, which pay an appliance launch (and inspection) every time.
// Figures: p50/p95 wall per operation, and CPU per operation including the appliance's qemu;
// the anchors' CPU is their whole process tree (reaped children, from /proc/self/stat).
// Usage: npm run bench -- explore [operations] [anchor runs]
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../lib/native.js';
import { resolveConfig } from '../src/config.js';
import { ExploreSessions } from '../src/explore/sessions.js';
import { BIG_BYTES, buildExploreImages } from '../test/explore/fixture.js';

const OPS = Number(process.argv[2] ?? 200);
const ANCHOR_RUNS = Number(process.argv[3] ?? 1);
const RESULTS = join(PACKAGE_ROOT, 'benchmarks', 'results');
const TICK = 100; // USER_HZ

/** CPU seconds of this process's reaped children (cutime + cstime). */
function childrenCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) / TICK;
}

/** CPU seconds of the live qemu children of this process (the session's appliance). */
function qemuCpu(): number {
  let sum = 0;
  for (const t of readdirSync('/proc/self/task')) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/self/task/${t}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const pid of kids.trim().split(/\s+/).filter(Boolean)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (!/\(qemu/.test(stat)) continue;
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        sum += (Number(f[11]) + Number(f[12])) / TICK;
      } catch {
        // exited between listing and reading
      }
    }
  }
  return sum;
}

function run(cmd: string, args: string[]): Promise<{ wall: number; cpu: number; out: string }> {
  return new Promise((resolve, reject) => {
    const cpu0 = childrenCpu();
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${out}`));
      resolve({ wall: (performance.now() - t0) / 1000, cpu: childrenCpu() - cpu0, out });
    });
  });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)];

const dir = await mkdtemp(join(tmpdir(), 'gk-bench-explore-'));
const { os: image } = await buildExploreImages(dir);
const load0 = loadavg()[0];

// Anchors: one tool call per answer, each launching its own appliance.
const anchors = { ls: [] as { wall: number; cpu: number }[], cat: [] as { wall: number; cpu: number }[] };
for (let i = 0; i < ANCHOR_RUNS; i++) {
  const ls = await run('virt-ls', ['--format=raw', '-a', image, '-l', '/etc']);
  if (!ls.out.includes('os-release')) throw new Error(`virt-ls did not list /etc: ${ls.out}`);
  anchors.ls.push(ls);
  const cat = await run('virt-cat', ['--format=raw', '-a', image, '/etc/os-release']);
  if (!cat.out.includes('PRETTY_NAME')) throw new Error(`virt-cat did not print the file: ${cat.out}`);
  anchors.cat.push(cat);
  console.log(`anchor ${i + 1}: virt-ls ${ls.wall.toFixed(1)} s, virt-cat ${cat.wall.toFixed(1)} s`);
}

// Ours: one session, then OPS listings and OPS 4 KiB reads, interleaved.
const sessions = new ExploreSessions({
  config: resolveConfig({ allowedRoots: [dir], logLevel: 'warn', explore: { maxSessions: 1 } }),
  ttlMs: 3_600_000,
});
const o0 = performance.now();
const session = await sessions.open({ path: image, format: 'raw' });
const openWall = (performance.now() - o0) / 1000;
const ex = session.explorer;
const lsMs: number[] = [];
const readMs: number[] = [];
const cpu0 = process.cpuUsage();
const q0 = qemuCpu();
for (let i = 0; i < OPS; i++) {
  let t = performance.now();
  const l = await ex.ls('/etc');
  lsMs.push(performance.now() - t);
  if (l.total < 10) throw new Error('listing of /etc too short');
  const offset = ((i * 7919) % Math.floor(BIG_BYTES / 4096)) * 4096;
  t = performance.now();
  const r = await ex.read('/srv/data/big.bin', { offset, length: 4096 });
  readMs.push(performance.now() - t);
  if (r.length !== 4096) throw new Error(`short read: ${r.length}`);
}
const own = process.cpuUsage(cpu0);
const cpuPerOp = ((own.user + own.system) / 1e6 + (qemuCpu() - q0)) / (2 * OPS);
await sessions.closeAll();
await rm(dir, { recursive: true, force: true });

const median = (xs: number[]) => pct(xs, 0.5);
const result = {
  image: 'explore fixture (Debian-like, raw, 96 MiB)',
  operations: OPS,
  anchor_runs: ANCHOR_RUNS,
  load_average: { start: load0, end: loadavg()[0] },
  session_open_s: Math.round(openWall * 10) / 10,
  ours: {
    ls_ms: { p50: median(lsMs), p95: pct(lsMs, 0.95) },
    read_4k_ms: { p50: median(readMs), p95: pct(readMs, 0.95) },
    cpu_ms_per_op: Math.round(cpuPerOp * 1e4) / 10,
  },
  anchor: {
    virt_ls_s: median(anchors.ls.map((a) => a.wall)),
    virt_ls_cpu_s: median(anchors.ls.map((a) => a.cpu)),
    virt_cat_s: median(anchors.cat.map((a) => a.wall)),
    virt_cat_cpu_s: median(anchors.cat.map((a) => a.cpu)),
  },
  ratio_ls: 0,
  ratio_read: 0,
  goal_p50_ms: 50,
  at: new Date().toISOString(),
};
const r1 = (x: number) => Math.round(x * 10) / 10;
result.ours.ls_ms = { p50: r1(result.ours.ls_ms.p50), p95: r1(result.ours.ls_ms.p95) };
result.ours.read_4k_ms = { p50: r1(result.ours.read_4k_ms.p50), p95: r1(result.ours.read_4k_ms.p95) };
result.ratio_ls = Math.round((result.anchor.virt_ls_s * 1000) / result.ours.ls_ms.p50);
result.ratio_read = Math.round((result.anchor.virt_cat_s * 1000) / result.ours.read_4k_ms.p50);
console.log(JSON.stringify(result, null, 2));
console.log(
  `ls: ${result.ours.ls_ms.p50} ms p50 vs virt-ls ${result.anchor.virt_ls_s.toFixed(1)} s (x${result.ratio_ls}); ` +
    `4 KiB read: ${result.ours.read_4k_ms.p50} ms p50 vs virt-cat ${result.anchor.virt_cat_s.toFixed(1)} s (x${result.ratio_read})`,
);
await writeFile(join(RESULTS, 'explore.json'), JSON.stringify(result, null, 2) + '\n');
await writeFile(
  join(RESULTS, 'explore.md'),
  `# explore benchmark\n\n${result.image}; one session (opened in ${result.session_open_s} s), then ${OPS} listings of /etc ` +
    `and ${OPS} 4 KiB reads at spread offsets of a 6 MiB file, interleaved; anchors: ${ANCHOR_RUNS} \`virt-ls -l /etc\` and ` +
    `\`virt-cat /etc/os-release\` of the same image in the same run. Load average ${load0.toFixed(2)} → ` +
    `${result.load_average.end.toFixed(2)}.\n\n| | p50 | p95 | CPU incl. qemu |\n|---|---|---|---|\n` +
    `| session: ls /etc | ${result.ours.ls_ms.p50} ms | ${result.ours.ls_ms.p95} ms | ${result.ours.cpu_ms_per_op} ms/op (ls and read) |\n` +
    `| session: 4 KiB read | ${result.ours.read_4k_ms.p50} ms | ${result.ours.read_4k_ms.p95} ms | |\n` +
    `| virt-ls -l /etc | ${result.anchor.virt_ls_s.toFixed(1)} s | | ${result.anchor.virt_ls_cpu_s.toFixed(1)} s |\n` +
    `| virt-cat /etc/os-release | ${result.anchor.virt_cat_s.toFixed(1)} s | | ${result.anchor.virt_cat_cpu_s.toFixed(1)} s |\n` +
    `\nGoal: < ${result.goal_p50_ms} ms p50 for both. Ratios (anchor / ours p50): ls x${result.ratio_ls}, read x${result.ratio_read}.\n`,
);

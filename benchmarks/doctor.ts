// guestkit.doctor + guestkit.migrate-plan of one image against a guestkit.inspect of the same image,
// in the same run, each on a fresh pool (one launch): the two migration jobs submitted together
// share one reading of the disk, and the pair should cost no more than 1.2x the inspection.
// Rounds alternate (inspect, pair, inspect, pair…) so machine load hits both alike; the figures are
// medians of wall time and of this process's CPU plus the appliance's (qemu) CPU per round.
// Usage: npm run bench -- doctor [rounds]
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSharedAppliancePool } from '../lib/appliance/index.js';
import { PACKAGE_ROOT } from '../lib/native.js';
import { resolveConfig } from '../src/config.js';
import { JobBuilder } from '../src/protocol/builder.js';
import type { ResultDocument } from '../src/protocol/schema.js';
import { createWorker } from '../src/worker/worker.js';
import { getFixture } from '../test/fixtures/index.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const RESULTS = join(PACKAGE_ROOT, 'benchmarks', 'results');
const TICK = 100; // USER_HZ

/** CPU seconds of qemu children started by this process (read before they exit, summed by pid). */
const qemuCpu = new Map<number, number>();
function sampleQemu(): void {
  for (const t of readdirSync('/proc/self/task')) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/self/task/${t}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const pid of kids.trim().split(/\s+/).filter(Boolean).map(Number)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (!/\(qemu/.test(stat)) continue;
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        qemuCpu.set(pid, (Number(f[11]) + Number(f[12])) / TICK);
      } catch {
        // exited between listing and reading
      }
    }
  }
}

const image = await getFixture('kvm-ready');
const dir = await mkdtemp(join(tmpdir(), 'gk-bench-doctor-'));
const worker = createWorker(
  resolveConfig({
    stateDir: join(dir, 'state'),
    jobsDir: join(dir, 'jobs'),
    resultsDir: join(dir, 'results'),
    workDir: dir,
    allowedRoots: [PACKAGE_ROOT, dir],
    logLevel: 'warn',
    maxConcurrent: 4,
    metrics: { enabled: false },
    api: { enabled: false },
  }),
);
await worker.start();

async function round(jobs: [string, Record<string, unknown>][]): Promise<{ wall: number; cpu: number }> {
  qemuCpu.clear();
  const timer = setInterval(sampleQemu, 200);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const envs = jobs.map(([op, data]) => new JobBuilder(op).payload(`${op}.v1`, data).timeout(3600).build());
  for (const e of envs) await worker.submit(e);
  for (const e of envs) {
    await worker.waitFor(e.job_id);
    const r = (await worker.result(e.job_id)) as ResultDocument;
    if (r.status !== 'completed') throw new Error(`${e.operation}: ${JSON.stringify(r.error)}`);
  }
  const wall = (performance.now() - t0) / 1000;
  clearInterval(timer);
  await closeSharedAppliancePool(); // next round launches afresh
  const own = process.cpuUsage(cpu0);
  const cpu = (own.user + own.system) / 1e6 + [...qemuCpu.values()].reduce((a, b) => a + b, 0);
  return { wall, cpu };
}

const img = { path: image.path, format: 'raw' };
const inspect: { wall: number; cpu: number }[] = [];
const pair: { wall: number; cpu: number }[] = [];
const load0 = loadavg()[0];
for (let i = 0; i < ROUNDS; i++) {
  inspect.push(await round([['guestkit.inspect', { image: img }]]));
  pair.push(
    await round([
      ['guestkit.doctor', { image: img, target: 'kubevirt' }],
      ['guestkit.migrate-plan', { image: img, target: 'kubevirt' }],
    ]),
  );
  console.log(
    `round ${i + 1}: inspect ${inspect[i].wall.toFixed(1)} s / ${inspect[i].cpu.toFixed(1)} cpu-s, doctor+plan ${pair[i].wall.toFixed(1)} s / ${pair[i].cpu.toFixed(1)} cpu-s`,
  );
}
await worker.stop();
await rm(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = {
  image: `${image.name} (${image.format})`,
  rounds: ROUNDS,
  load_average: { start: load0, end: loadavg()[0] },
  inspect: { wall_s: median(inspect.map((r) => r.wall)), cpu_s: median(inspect.map((r) => r.cpu)) },
  doctor_and_plan: { wall_s: median(pair.map((r) => r.wall)), cpu_s: median(pair.map((r) => r.cpu)) },
  ratio_wall: 0,
  ratio_cpu: 0,
  goal: 1.2,
  at: new Date().toISOString(),
};
result.ratio_wall = Math.round((result.doctor_and_plan.wall_s / result.inspect.wall_s) * 100) / 100;
result.ratio_cpu = Math.round((result.doctor_and_plan.cpu_s / result.inspect.cpu_s) * 100) / 100;
console.log(JSON.stringify(result, null, 2));
await writeFile(join(RESULTS, 'doctor.json'), JSON.stringify(result, null, 2) + '\n');
await writeFile(
  join(RESULTS, 'doctor.md'),
  `# doctor benchmark\n\n${result.image}, ${ROUNDS} alternating rounds, each on a fresh appliance; load average ` +
    `${load0.toFixed(2)} → ${result.load_average.end.toFixed(2)}.\n\n| job(s) | wall (median) | CPU incl. qemu (median) |\n|---|---|---|\n` +
    `| guestkit.inspect | ${result.inspect.wall_s.toFixed(1)} s | ${result.inspect.cpu_s.toFixed(1)} s |\n` +
    `| guestkit.doctor + guestkit.migrate-plan (submitted together) | ${result.doctor_and_plan.wall_s.toFixed(1)} s | ${result.doctor_and_plan.cpu_s.toFixed(1)} s |\n` +
    `| ratio (goal ≤ ${result.goal}) | ${result.ratio_wall} | ${result.ratio_cpu} |\n`,
);

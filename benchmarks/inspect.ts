// guestkit.inspect against sequential virt-inspector, in the same run on the same images:
//  (a) virt-inspector over 8 fixture disks one after another (one launch each) vs (b) our worker
//      with defaults, one guestkit.inspect job per disk submitted at once (the pool batches them);
//  one disk alone (latency); checksum verification overlapped with inspection vs one after the other
//  on a large sparse image (hashing is CPU-bound over holes too).
// Usage: npm run bench -- inspect
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closeSharedAppliancePool } from '../lib/appliance/index.js';
import { sha256File } from '../lib/checksum.js';
import { PACKAGE_ROOT } from '../lib/native.js';
import { resolveConfig } from '../src/config.js';
import { JobBuilder } from '../src/protocol/builder.js';
import type { ResultDocument } from '../src/protocol/schema.js';
import { createWorker } from '../src/worker/worker.js';
import { getFixtures, type FixtureName } from '../test/fixtures/index.js';
import { VIRT_INSPECTOR_ENV } from '../test/integration/inspect-oracle.js';

const execFileP = promisify(execFile);
const RESULTS = join(PACKAGE_ROOT, 'benchmarks', 'results');
const DISKS: FixtureName[] = [
  'debian-like',
  'ubuntu-like',
  'rhel-like',
  'multi-os',
  'debian-like-updated',
  'debian-like-vmdk',
  'ubuntu-like-vdi',
  'rhel-lvm',
];
const BIG_GIB = 8;

const seconds = (ms: number) => Math.round(ms / 10) / 100;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

async function virtInspector(path: string): Promise<number> {
  const { stdout } = await execFileP('virt-inspector', ['-a', path], {
    env: { ...process.env, ...VIRT_INSPECTOR_ENV },
    maxBuffer: 64 * 1024 * 1024,
  });
  return (stdout.match(/<operatingsystem>/g) ?? []).length;
}

const dir = await mkdtemp(join(tmpdir(), 'gk-bench-inspect-'));
const worker = createWorker(
  resolveConfig({
    stateDir: join(dir, 'state'),
    jobsDir: join(dir, 'jobs'),
    resultsDir: join(dir, 'results'),
    workDir: dir,
    allowedRoots: [PACKAGE_ROOT, dir],
    logLevel: 'warn',
    metrics: { enabled: false },
    api: { enabled: false },
  }),
);
await worker.start();

async function inspectJobs(images: { path: string; checksum?: string }[]): Promise<ResultDocument[]> {
  const envelopes = images.map((image) =>
    new JobBuilder('guestkit.inspect').payload('guestkit.inspect.v1', { image }).timeout(3600).build(),
  );
  for (const e of envelopes) await worker.submit(e);
  return Promise.all(
    envelopes.map(async (e) => {
      await worker.waitFor(e.job_id);
      return (await worker.result(e.job_id)) as ResultDocument;
    }),
  );
}

function allCompleted(results: ResultDocument[]): void {
  const bad = results.filter((r) => r.status !== 'completed');
  if (bad.length) throw new Error(`jobs failed: ${JSON.stringify(bad.map((r) => r.error))}`);
}

const load0 = loadavg()[0];
const fixtures = await getFixtures(DISKS);
console.log(`8 disks: ${fixtures.map((f) => `${f.name} (${f.format})`).join(', ')}`);

// (b) ours first (a failure shows before minutes of virt-inspector): 8 jobs at once, worker defaults
const ours = await timed(() => inspectJobs(fixtures.map((f) => ({ path: f.path }))));
allCompleted(ours.value);
console.log(`ours, 8 jobs: ${seconds(ours.ms)} s `);

// (a) sequential virt-inspector
const seq = await timed(async () => {
  const per: number[] = [];
  for (const f of fixtures) {
    const t = await timed(() => virtInspector(f.path));
    per.push(t.ms);
    console.log(`  virt-inspector ${f.name}: ${seconds(t.ms)} s`);
  }
  return per;
});
console.log(
  `virt-inspector, sequential: ${seconds(seq.ms)} s; ours/virt-inspector ${(ours.ms / seq.ms).toFixed(3)}`,
);

// one disk alone
const one = fixtures[0];
const viOne = await timed(() => virtInspector(one.path));
const ourOne = await timed(() => inspectJobs([{ path: one.path }]));
allCompleted(ourOne.value);
console.log(`one disk: virt-inspector ${seconds(viOne.ms)} s, ours ${seconds(ourOne.ms)} s`);

// verify + inspect on a large image
await mkdir(dir, { recursive: true });
const big = join(dir, 'big.img');
await copyFile(one.path, big);
await truncate(big, BIG_GIB * 1024 ** 3);
const verify = await timed(() => sha256File(big));
const inspectOnly = await timed(() => inspectJobs([{ path: big }]));
allCompleted(inspectOnly.value);
const both = await timed(() => inspectJobs([{ path: big, checksum: `sha256:${verify.value}` }]));
allCompleted(both.value);
const sequential = verify.ms + inspectOnly.ms;
console.log(
  `verify ${seconds(verify.ms)} s, inspect ${seconds(inspectOnly.ms)} s, verify+inspect ${seconds(both.ms)} s, ` +
    `verify then inspect ${seconds(sequential)} s`,
);

await worker.stop();
await closeSharedAppliancePool();
await rm(dir, { recursive: true, force: true });

const ratio8 = ours.ms / seq.ms;
const ratio1 = ourOne.ms / viOne.ms;
const overlap = both.ms / Math.max(verify.ms, inspectOnly.ms);
const result = {
  date: new Date().toISOString(),
  cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
  load_average: [load0, loadavg()[0]],
  disks: fixtures.map((f) => f.name),
  virt_inspector_sequential_s: seconds(seq.ms),
  virt_inspector_per_disk_s: seq.value.map(seconds),
  ours_8_jobs_s: seconds(ours.ms),
  ratio_8: Number(ratio8.toFixed(3)),
  one_disk: {
    virt_inspector_s: seconds(viOne.ms),
    ours_s: seconds(ourOne.ms),
    ratio: Number(ratio1.toFixed(3)),
  },
  verify_inspect: {
    image_gib: BIG_GIB,
    verify_s: seconds(verify.ms),
    inspect_s: seconds(inspectOnly.ms),
    verify_plus_inspect_s: seconds(both.ms),
    verify_then_inspect_s: seconds(sequential),
    ratio_to_max: Number(overlap.toFixed(3)),
  },
  acceptance: {
    '8 disks ≤ 0.35× sequential virt-inspector': ratio8 <= 0.35,
    '8 disks goal ≤ 0.25×': ratio8 <= 0.25,
    'one disk ≤ 1.0× virt-inspector': ratio1 <= 1.0,
    'verify+inspect ≤ 1.15× max(verify, inspect)': overlap <= 1.15,
  },
};
await mkdir(RESULTS, { recursive: true });
await writeFile(join(RESULTS, 'inspect.json'), JSON.stringify(result, null, 2) + '\n');
const md = [
  '# guestkit.inspect vs sequential virt-inspector (TCG, same run, same images)',
  '',
  `${result.date} · ${result.cpu} · Node ${process.version} · load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)} (cores shared with other work)`,
  '',
  `Disks: ${result.disks.join(', ')}`,
  '',
  '| run | wall (s) | ratio |',
  '|---|---|---|',
  `| virt-inspector, 8 disks one after another | ${result.virt_inspector_sequential_s} | 1 |`,
  `| ours, 8 jobs at once (worker defaults) | ${result.ours_8_jobs_s} | ${result.ratio_8} |`,
  `| virt-inspector, one disk | ${result.one_disk.virt_inspector_s} | 1 |`,
  `| ours, one job | ${result.one_disk.ours_s} | ${result.one_disk.ratio} |`,
  `| verify only (${BIG_GIB} GiB sparse raw) | ${result.verify_inspect.verify_s} | |`,
  `| inspect only | ${result.verify_inspect.inspect_s} | |`,
  `| verify+inspect (one job, overlapped) | ${result.verify_inspect.verify_plus_inspect_s} | ${result.verify_inspect.ratio_to_max} × max |`,
  `| verify then inspect (sum) | ${result.verify_inspect.verify_then_inspect_s} | |`,
  '',
  ...Object.entries(result.acceptance).map(([k, v]) => `- ${v ? 'met' : 'MISSED'}: ${k}`),
  '',
].join('\n');
await writeFile(join(RESULTS, 'inspect.md'), md);
console.log(md);

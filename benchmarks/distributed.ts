// Distributed mode throughput: echo jobs through an API-role RedisWorker (submit: validate → Redis
// store → BullMQ queue) and 1 or 2 worker processes (pull → fenced status machine → result in
// Redis), against the anchor measured in the same run on the same redis-server: a bare BullMQ
// `Queue.add` loop with a do-nothing `Worker` in one process. Consumers are started and idle
// before the clock starts; the clock stops when the last of N jobs is completed.
// Goals (issue 15): ours ≥ 0.5× bare BullMQ's jobs/s, consumer CPU per job ≤ 2× bare BullMQ's;
// 2 worker processes ≥ 1.6× one (reported).
// Usage: npm run bench -- distributed [--jobs N] [--runs N] [--concurrency C]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import { PACKAGE_ROOT } from '../lib/native.js';
import { resolveConfig } from '../src/config.js';
import { createRedisWorker } from '../src/distributed/worker.js';
import { JobBuilder } from '../src/protocol/builder.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    child: { type: 'string' },
    redis: { type: 'string' },
    prefix: { type: 'string' },
  },
});
const JOBS = Number(args.jobs);
/** Untimed jobs each run starts with, so both systems are measured warm (JIT), as a worker runs. */
const WARMUP = Number(args.warmup);
const RUNS = Number(args.runs);
const CONCURRENCY = Number(args.concurrency);
const RESULTS = join(PACKAGE_ROOT, 'benchmarks', 'results');
const r2 = (n: number) => Math.round(n * 100) / 100;
/** Ratios near a goal are shown to three places, with the verdict on the unrounded value. */
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const verdict = (ok: boolean) => (ok ? 'met' : 'not met');
const GOAL_RATIO = 0.5;
const GOAL_CPU_RATIO = 2;
const GOAL_SCALING = 1.6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- child processes (consumers) ----

async function child(kind: string, url: string, prefix: string): Promise<void> {
  let stop: () => Promise<void>;
  if (kind === 'bare') {
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    const w = new BullWorker('pool-default', async (job) => ({ echo: job.data as unknown }), {
      connection,
      prefix: `${prefix}bull`,
      concurrency: CONCURRENCY,
      removeOnComplete: { count: 0 },
    });
    await w.waitUntilReady();
    stop = async () => {
      await w.close();
      await connection.quit();
    };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'gk-bench-dist-'));
    const w = createRedisWorker(
      resolveConfig(
        {
          transport: 'redis',
          role: 'worker',
          redisUrl: url,
          maxConcurrent: CONCURRENCY,
          stateDir: dir,
          workDir: dir,
          api: { enabled: false },
        },
        {},
      ),
      { tuning: { prefix }, healthChecks: {} },
    );
    await w.start();
    stop = async () => {
      await w.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  let cpu0 = process.cpuUsage();
  // "mark" on stdin: the warm-up is over, CPU counts from here.
  process.stdin.on('data', (d: Buffer) => {
    if (!d.toString().includes('mark')) return;
    cpu0 = process.cpuUsage();
    process.stdout.write('marked\n');
  });
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`cpu ${cpu.user + cpu.system}\n`);
    void stop().then(() => process.exit(0));
  });
}

function spawnConsumers(kind: 'bare' | 'guestkit', n: number, url: string, prefix: string) {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ChildProcess>((resolve, reject) => {
          const c = spawn(
            process.execPath,
            [
              ...(process.env.BENCH_CPU_PROF
                ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
                : []),
              '--import',
              'tsx',
              join(PACKAGE_ROOT, 'benchmarks', 'distributed.ts'),
              '--child',
              kind,
              '--redis',
              url,
              '--prefix',
              prefix,
              '--concurrency',
              String(CONCURRENCY),
            ],
            { cwd: PACKAGE_ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
          );
          c.stdout?.on('data', (d: Buffer) => {
            if (d.toString().includes('ready')) resolve(c);
          });
          c.once('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
        }),
    ),
  );
}

/** Ends the consumers' warm-up: their CPU counts from now. */
async function markConsumers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          const onData = (d: Buffer) => {
            if (!d.toString().includes('marked')) return;
            c.stdout?.off('data', onData);
            resolve();
          };
          c.stdout?.on('data', onData);
          c.stdin?.write('mark\n');
        }),
    ),
  );
}

/** Stops the consumers; resolves with the CPU time (µs, user + system) they spent while measured. */
async function stopConsumers(children: ChildProcess[]): Promise<number> {
  const cpu = await Promise.all(
    children.map(
      (c) =>
        new Promise<number>((resolve) => {
          let used = 0;
          c.stdout?.on('data', (d: Buffer) => {
            const m = /cpu (\d+)/.exec(d.toString());
            if (m) used = Number(m[1]);
          });
          c.removeAllListeners('exit');
          c.once('exit', () => resolve(used));
          c.kill('SIGTERM');
        }),
    ),
  );
  return cpu.reduce((a, b) => a + b, 0);
}

const cpuTotal = (u: NodeJS.CpuUsage) => u.user + u.system;

/** redis-server's own CPU time so far (µs, user + system), from INFO. */
async function redisCpuUs(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1e6;
}

/** Runs `fn` for indices 0..n-1 with `limit` in flight. */
async function inFlight(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

// ---- one measured run ----

interface Run {
  system: 'bare' | 'guestkit';
  processes: number;
  jobsPerSecond: number;
  submitPerSecond: number;
  /** Consumer CPU per job (all worker processes), µs. */
  consumerCpuUs: number;
  /** redis-server CPU per job, µs. */
  redisCpuUs: number;
  /** The submitting process's CPU per job (the API node, or bare BullMQ's Queue.add), µs. */
  submitterCpuUs: number;
}

/**
 * Waits until BullMQ holds nothing for `queue` (both systems remove a job when it completes), polling
 * the way both set-ups do, so the submitting process's CPU counts no event-stream reading.
 */
async function drained(queue: Queue): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('wait', 'active', 'prioritized', 'delayed');
    if (Object.values(counts).every((n) => n === 0)) return;
    await sleep(10);
  }
}

async function runBare(url: string, processes: number): Promise<Run> {
  const prefix = `bench-bare-${Date.now()}:`;
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('pool-default', { connection, prefix: `${prefix}bull` });
  const consumers = await spawnConsumers('bare', processes, url, prefix);
  const add = (i: number) =>
    queue.add(
      'job',
      { job_id: `job-bare-${i}`, text: 'benchmark' },
      {
        jobId: `j_job-bare-${i}`,
        priority: 6,
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  if (WARMUP > 0) {
    await inFlight(WARMUP, 32, (i) => add(JOBS + i));
    await drained(queue);
  }
  await markConsumers(consumers);
  const redis0 = await redisCpuUs(connection);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await inFlight(JOBS, 32, add);
  const submitted = performance.now();
  await drained(queue);
  const seconds = (performance.now() - t0) / 1000;
  const submitterUs = cpuTotal(process.cpuUsage(cpu0));
  const redisUs = (await redisCpuUs(connection)) - redis0;
  const cpuUs = await stopConsumers(consumers);
  await queue.close();
  await connection.quit();
  return {
    system: 'bare',
    processes,
    jobsPerSecond: JOBS / seconds,
    submitPerSecond: JOBS / ((submitted - t0) / 1000),
    consumerCpuUs: cpuUs / JOBS,
    redisCpuUs: redisUs / JOBS,
    submitterCpuUs: submitterUs / JOBS,
  };
}

async function runOurs(url: string, processes: number): Promise<Run> {
  const prefix = `bench-gk-${Date.now()}:`;
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-dist-'));
  const apiNode = createRedisWorker(
    resolveConfig({ transport: 'redis', role: 'api', redisUrl: url, stateDir: dir, workDir: dir }, {}),
    { tuning: { prefix }, healthChecks: {} },
  );
  await apiNode.start();
  const consumers = await spawnConsumers('guestkit', processes, url, prefix);
  const counter = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('pool-default', { connection: counter, prefix: `${prefix}bull` });
  // Documents are built before timing: the builder's validation is not what we measure.
  const docs = Array.from({ length: WARMUP + JOBS }, (_, i) =>
    new JobBuilder('system.echo').payload('system.echo.v1', { i, text: 'benchmark' }).build(),
  );
  // Done: completed in the store and settled in BullMQ (the consumer's last step for a job).
  const completed = async (n: number) => {
    while (Number(await counter.hget(`${prefix}counts`, 'completed')) < n) await sleep(10);
    await drained(queue);
  };
  if (WARMUP > 0) {
    await inFlight(WARMUP, 32, (i) => apiNode.submit(docs[JOBS + i]));
    await completed(WARMUP);
  }
  await markConsumers(consumers);
  const redis0 = await redisCpuUs(counter);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await inFlight(JOBS, 32, (i) => apiNode.submit(docs[i]));
  const submitted = performance.now();
  await completed(WARMUP + JOBS);
  const seconds = (performance.now() - t0) / 1000;
  const submitterUs = cpuTotal(process.cpuUsage(cpu0));
  const redisUs = (await redisCpuUs(counter)) - redis0;
  const counts = await apiNode.counts();
  if (counts.completed !== WARMUP + JOBS || counts.failed > 0)
    throw new Error(`unexpected counts ${JSON.stringify(counts)}`);
  const cpuUs = await stopConsumers(consumers);
  await apiNode.stop();
  await queue.close();
  await counter.quit();
  rmSync(dir, { recursive: true, force: true });
  return {
    system: 'guestkit',
    processes,
    jobsPerSecond: JOBS / seconds,
    submitPerSecond: JOBS / ((submitted - t0) / 1000),
    consumerCpuUs: cpuUs / JOBS,
    redisCpuUs: redisUs / JOBS,
    submitterCpuUs: submitterUs / JOBS,
  };
}

function median(runs: Run[]): Run {
  const s = [...runs].sort((a, b) => a.jobsPerSecond - b.jobsPerSecond);
  return s[Math.floor(s.length / 2)];
}

async function startRedis(): Promise<{ url: string; stop: () => void; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-redis-'));
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    const ok = await r.connect().then(
      () => true,
      () => false,
    );
    r.disconnect();
    if (ok) break;
    if (i > 100) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return { url, dir, stop: () => proc.kill('SIGTERM') };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  try {
    // Warm-up: Redis, the page cache, tsx's compile cache.
    await runBare(redis.url, 1);
    await runOurs(redis.url, 1);
    const plan: [Run['system'], number][] = [
      ['bare', 1],
      ['guestkit', 1],
      ['guestkit', 2],
      ['bare', 2],
    ];
    // Rounds interleave the four set-ups, so each round's ratios share the machine's load of the
    // moment (it is shared and drifts); ratios are the median of the per-round ratios.
    const rounds: Run[][] = [];
    for (let i = 0; i < RUNS; i++) {
      const round: Run[] = [];
      for (const [system, processes] of plan) {
        round.push(
          system === 'bare' ? await runBare(redis.url, processes) : await runOurs(redis.url, processes),
        );
      }
      rounds.push(round);
      console.log(
        `round ${i + 1}: ${round.map((r) => `${r.system}×${r.processes} ${Math.round(r.jobsPerSecond)}/s`).join(', ')}`,
      );
    }
    const results = plan.map((_, k) => median(rounds.map((round) => round[k])));
    for (const [k, m] of results.entries()) {
      console.log(
        `${m.system.padEnd(8)} × ${m.processes} process(es): ${Math.round(m.jobsPerSecond)} jobs/s ` +
          `(submissions ${Math.round(m.submitPerSecond)}/s; consumer CPU ${Math.round(m.consumerCpuUs)} µs/job; redis-server ${Math.round(m.redisCpuUs)} µs/job; submitter ${Math.round(m.submitterCpuUs)} µs/job; ` +
          `runs ${rounds.map((round) => Math.round(round[k].jobsPerSecond)).join(', ')})`,
      );
    }
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const vsBare = mid(rounds.map((r) => r[1].jobsPerSecond / r[0].jobsPerSecond));
    const scaling = mid(rounds.map((r) => r[2].jobsPerSecond / r[1].jobsPerSecond));
    const bareScaling = mid(rounds.map((r) => r[3].jobsPerSecond / r[0].jobsPerSecond));
    // Like the others, the median of per-round ratios (not the ratio of the median-jobs/s runs).
    const cpuRatio = mid(rounds.map((r) => r[1].consumerCpuUs / r[0].consumerCpuUs));
    console.log(
      `guestkit/bare (1 process): ${r3(vsBare)}× (goal ≥ ${GOAL_RATIO}, ${verdict(vsBare >= GOAL_RATIO)}); 2 vs 1 worker processes: ${r2(scaling)}× ` +
        `(goal ≥ ${GOAL_SCALING}; bare BullMQ scales ${r2(bareScaling)}× on this machine); ` +
        `consumer CPU per job ${r3(cpuRatio)}× bare's (goal ≤ ${GOAL_CPU_RATIO}, ${verdict(cpuRatio <= GOAL_CPU_RATIO)})`,
    );
    const env = {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadavg: loadavg().map(r2),
      jobsPerRun: JOBS,
      warmupJobsPerRun: WARMUP,
      runs: RUNS,
      concurrencyPerProcess: CONCURRENCY,
      date: new Date().toISOString(),
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(
      join(RESULTS, 'distributed.json'),
      `${JSON.stringify(
        {
          benchmark: 'distributed',
          description:
            'echo jobs submit → completed in Redis mode (API-role node in the benchmark process, worker processes) ' +
            'vs a bare BullMQ add + no-op Worker loop on the same redis-server',
          env,
          results: results.map((r) => ({
            system: r.system === 'bare' ? 'bare BullMQ (anchor)' : 'guestkit distributed',
            worker_processes: r.processes,
            jobs_per_second: Math.round(r.jobsPerSecond),
            submissions_per_second: Math.round(r.submitPerSecond),
            consumer_cpu_us_per_job: Math.round(r.consumerCpuUs),
            redis_server_cpu_us_per_job: Math.round(r.redisCpuUs),
            submitter_cpu_us_per_job: Math.round(r.submitterCpuUs),
          })),
          ratio_to_bare_bullmq: r3(vsBare),
          goal_ratio_to_bare_bullmq: GOAL_RATIO,
          scaling_2_vs_1: r2(scaling),
          goal_scaling_2_vs_1: GOAL_SCALING,
          bare_bullmq_scaling_2_vs_1: r2(bareScaling),
          consumer_cpu_per_job_vs_bare: r3(cpuRatio),
          goal_consumer_cpu_per_job_vs_bare: GOAL_CPU_RATIO,
          rounds: rounds.map((round) => round.map((r) => Math.round(r.jobsPerSecond))),
          rounds_consumer_cpu_us_per_job: rounds.map((round) =>
            round.map((r) => Math.round(r.consumerCpuUs)),
          ),
        },
        null,
        2,
      )}\n`,
    );
    const rows = results.map(
      (r) =>
        `| ${r.system === 'bare' ? 'bare BullMQ (anchor)' : 'guestkit distributed'} | ${r.processes} | ` +
        `${Math.round(r.jobsPerSecond)} | ${Math.round(r.submitPerSecond)} | ${Math.round(r.consumerCpuUs)} | ${Math.round(r.redisCpuUs)} | ${Math.round(r.submitterCpuUs)} |`,
    );
    writeFileSync(
      join(RESULTS, 'distributed.md'),
      [
        '# Distributed benchmark',
        '',
        'Echo jobs in Redis mode: an API-role `RedisWorker` in the benchmark process submits (validation,',
        'atomic create in Redis, BullMQ add) and worker processes run them (fenced status machine, progress',
        'events, result in Redis). Anchor, same run and same redis-server: bare BullMQ `Queue.add` and a',
        `no-op \`Worker\`. ${JOBS} jobs per run, 32 submissions in flight, concurrency ${CONCURRENCY} per`,
        `process, ${RUNS} rounds. Each run first puts ${WARMUP} untimed jobs through (its consumers are fresh`,
        'processes: this measures them JIT-warm, as a long-running worker runs); the clock and the CPU',
        'counts start after them, with the consumers idle.',
        '',
        '| system | worker processes | jobs/s | submissions/s | consumer CPU µs/job | redis-server CPU µs/job | submitter CPU µs/job |',
        '|---|---|---|---|---|---|---|',
        ...rows,
        '',
        `guestkit vs bare BullMQ (1 process): **${r3(vsBare)}×** (goal ≥ ${GOAL_RATIO}, ${verdict(vsBare >= GOAL_RATIO)}).`,
        `Consumer CPU per job: **${r3(cpuRatio)}×** bare BullMQ's (goal ≤ ${GOAL_CPU_RATIO}, ${verdict(cpuRatio <= GOAL_CPU_RATIO)}; the figure`,
        'that survives a noisy machine).',
        `2 vs 1 worker processes: **${r2(scaling)}×** (goal ≥ ${GOAL_SCALING}); bare BullMQ itself scales`,
        `${r2(bareScaling)}× here. Ratios are medians of per-round ratios (each round runs the four set-ups`,
        "back to back). Besides BullMQ's own fetch and completion, a guestkit echo job costs the consumer one",
        'store script call (its start, held back on a first delivery, written with its progress events,',
        'result and final status) and its share of one PUBLISH per event-loop turn relaying status events.',
        'The product runs from dist/ (the compiled package), as users run it.',
        '',
        `Node ${env.node}, ${env.cpus} × ${env.cpuModel}, load ${env.loadavg.join(' ')} (shared machine: the`,
        'benchmark process, the worker processes and redis-server all share these cores), ' + `${env.date}.`,
        '',
      ].join('\n'),
    );
  } finally {
    redis.stop();
    rmSync(redis.dir, { recursive: true, force: true });
  }
}

if (args.child) {
  child(args.child, args.redis as string, args.prefix as string).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

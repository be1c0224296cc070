// SLOW (~2-3 min, two appliance launches under TCG): queue-aware batching through the real local
// worker with its default max_concurrent (4). Six inspect jobs are submitted at once: four run and
// their drives reach the pool, the other two wait in the queue and are reserved, so the launch
// the running jobs make (split over the pool's 2 appliance slots) carries all six drives and the
// queued jobs are served by those appliances when they start: 2 launches instead of 4.
// Six distinct guests, so no clone needs an appliance of its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeSharedAppliancePool,
  configureSharedAppliancePool,
  sharedAppliancePoolStatus,
} from '../../lib/appliance/index.js';
import { resolveConfig } from '../../src/config.js';
import { inspectHandler, type InspectResultData } from '../../src/handlers/inspect/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';
import { defaultCacheDir, getFixtures, type Fixture, type FixtureName } from '../fixtures/index.js';
import { job } from '../unit/worker-helpers.js';
import { qemuChildren } from './qemu-children.js';

const GUESTS: FixtureName[] = [
  'debian-like',
  'ubuntu-like',
  'rhel-like',
  'multi-os',
  'debian-like-updated',
  'rhel-lvm',
];

let dir: string;
let worker: LocalWorker;
const fixtures: Fixture[] = [];
const results: ResultDocument[] = [];
let launches = 0;
let maxReserved = 0;
let maxConcurrent = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gk-reserve-'));
  // Linger long enough for a loaded machine: a reserved job's run (result write, qemu-img probe)
  // can take seconds at load 15, and the claim, not the clock, is what this test is about. The
  // appliances still close as soon as every reservation is claimed.
  // The batch window too: a queued job pins and checks its images (header reads, a qemu-img probe)
  // before it reserves, which takes longer than the 300 ms default on a loaded machine; the
  // reservations must reach the launch, which is what this test is about.
  configureSharedAppliancePool({
    guestfs: { tmpdir: dir },
    maxAppliances: 2,
    reservationLingerMs: 120_000,
    batchWindowMs: 5000,
  });
  fixtures.push(...(await getFixtures(GUESTS)));
  // The worker's defaults (max_concurrent 4), read without the environment.
  const config = resolveConfig(
    { stateDir: join(dir, 'state'), workerId: 'worker-reserve', allowedRoots: [defaultCacheDir()] },
    {},
  );
  maxConcurrent = config.maxConcurrent;
  worker = createWorker(config, { registry: new HandlerRegistry().register(inspectHandler) });
  await worker.start();
  const watch = setInterval(() => {
    maxReserved = Math.max(maxReserved, sharedAppliancePoolStatus()?.reserved ?? 0);
  }, 20);
  try {
    const envelopes = fixtures.map((f) =>
      job('guestkit.inspect', { image: { path: f.path } }, (b) => b.timeout(900)),
    );
    for (const e of envelopes) await worker.submit(e);
    for (const e of envelopes) {
      await worker.waitFor(e.job_id);
      results.push((await worker.result(e.job_id))!);
    }
  } finally {
    clearInterval(watch);
  }
  launches = sharedAppliancePoolStatus()?.launches ?? 0;
  console.info(`reservations: ${results.length} jobs, ${launches} launch(es), up to ${maxReserved} reserved`);
}, 900_000);

afterAll(async () => {
  await worker?.stop({ drainTimeoutMs: 0 });
  await closeSharedAppliancePool();
  expect(qemuChildren()).toEqual([]); // no qemu outlives the jobs
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('queued disk jobs join the running jobs’ launch', () => {
  it('runs six inspections with the default max_concurrent in the first wave of launches', () => {
    expect(maxConcurrent).toBe(4);
    for (const [i, r] of results.entries()) {
      expect(r.status, `${GUESTS[i]}: ${JSON.stringify(r.error)}`).toBe('completed');
      const summary = (r.data as InspectResultData).summary;
      expect(summary.hostname).toBe(fixtures[i].os!.hostname);
    }
    expect(maxReserved).toBeGreaterThanOrEqual(1);
    expect(launches).toBeGreaterThan(0);
    expect(launches).toBeLessThanOrEqual(2);
  });
});

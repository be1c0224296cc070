// Shared helpers for worker unit tests: a worker on a real SQLite file in a temp dir, with its
// own handler registry so test-only handlers never leak into other tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type WorkerConfigInput } from '../../src/config.js';
import { defaultCacheDir } from '../fixtures/index.js';
import { systemEchoHandler, testEchoHandler } from '../../src/handlers/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { JobBuilder } from '../../src/protocol/builder.js';
import type { JobEnvelope } from '../../src/protocol/schema.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

export interface TestWorker {
  worker: LocalWorker;
  dir: string;
  registry: HandlerRegistry;
  /** A second worker on the same state dir (a restart). */
  restart(overrides?: WorkerConfigInput): Promise<LocalWorker>;
  cleanup(): Promise<void>;
}

export async function startTestWorker(
  overrides: WorkerConfigInput = {},
  // Only the echo handlers (plus whatever a test registers): fast and isolated from other handlers.
  registry: HandlerRegistry = new HandlerRegistry().register(systemEchoHandler).register(testEchoHandler),
): Promise<TestWorker> {
  const dir = mkdtempSync(join(tmpdir(), 'gk-worker-'));
  const workers: LocalWorker[] = [];
  const make = async (o: WorkerConfigInput) => {
    const config = resolveConfig(
      {
        stateDir: join(dir, 'state'),
        jobsDir: join(dir, 'jobs'),
        resultsDir: join(dir, 'results'),
        workDir: dir,
        // The default roots (jobs, work) plus the fixture cache the integration tests read images from.
        allowedRoots: [join(dir, 'jobs'), dir, defaultCacheDir()],
        workerId: 'worker-test',
        maxConcurrent: 2,
        retry: { baseDelayMs: 20, maxDelayMs: 200 },
        drainTimeoutMs: 2000,
        ...overrides,
        ...o,
      },
      {},
    );
    const w = createWorker(config, {
      registry,
      healthChecks: { libguestfs: async () => ({ status: 'ok' }) },
    });
    workers.push(w);
    await w.start();
    return w;
  };
  const worker = await make({});
  return {
    worker,
    dir,
    registry,
    restart: make,
    async cleanup() {
      for (const w of workers) await w.stop({ drainTimeoutMs: 0 }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function echo(data: unknown = {}, patch: (b: JobBuilder) => JobBuilder = (b) => b): JobEnvelope {
  return patch(new JobBuilder('system.echo').payload('system.echo.v1', data)).build();
}

export function job(operation: string, data: unknown = {}, patch: (b: JobBuilder) => JobBuilder = (b) => b) {
  return patch(new JobBuilder(operation).payload(`${operation}.v1`, data)).build();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `pred` holds, polling every 5 ms (fails after `ms`). */
export async function until(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

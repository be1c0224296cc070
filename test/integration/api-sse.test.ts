// SSE over a real socket with a chatty job: a fast client and a paused (slow) client both get
// every event once, in order; a client that stops reading is cut off instead of buffered forever.
import { request, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { parseFrame, WorkerClient, type JobStreamEvent } from '../../src/cli/client.js';
import { defaultRegistry } from '../../src/handlers/index.js';
import type { JobHandler } from '../../src/handlers/types.js';
import { JobBuilder } from '../../src/protocol/builder.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

const EVENTS = 1500;
interface ChattyData {
  count: number;
  delay_ms: number;
  pad_kb: number;
}

/** Emits `count` progress events of `pad_kb` KiB each as fast as it can, after `delay_ms`. */
const chatty: JobHandler<ChattyData> = {
  operation: 'test.chatty',
  payloadTypes: ['test.chatty.v1'],
  validate: (d) => d as ChattyData,
  async run(ctx) {
    await new Promise((r) => setTimeout(r, ctx.data.delay_ms));
    const pad = 'x'.repeat(ctx.data.pad_kb * 1024);
    for (let i = 0; i < ctx.data.count; i++) {
      ctx.progress('disk_inspection', (100 * i) / ctx.data.count, `step ${i}`, { pad });
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    return { data: { steps: ctx.data.count } };
  },
};

let worker: LocalWorker;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  worker = createWorker(
    { store: 'memory', eventsPerJob: EVENTS + 10, maxConcurrent: 4 },
    { registry: defaultRegistry.clone().register(chatty) },
  );
  await worker.start();
  app = await buildApi(worker, { docs: false, sse: { maxStallMs: 1500 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address() as { port: number };
  base = `http://127.0.0.1:${a.port}`;
});
afterAll(async () => {
  await app.close();
  await worker.stop({ drainTimeoutMs: 0 });
});

const job = (count: number, delayMs: number, padKb = 2) =>
  new JobBuilder('test.chatty')
    .payload('test.chatty.v1', { count, delay_ms: delayMs, pad_kb: padKb })
    .build();

/** Opens the stream with a raw request; the caller decides when to read. */
function open(jobId: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/v1/jobs/${jobId}/events`, resolve);
    req.on('error', reject);
    req.end();
  });
}

function collect(res: IncomingMessage): Promise<JobStreamEvent[]> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const out: JobStreamEvent[] = [];
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const f = parseFrame(buf.slice(0, i));
        buf = buf.slice(i + 2);
        if (f) out.push(f);
      }
    });
    res.on('end', () => resolve(out));
    res.on('error', reject);
  });
}

const sequences = (frames: JobStreamEvent[]) =>
  frames.flatMap((f) => (f.type === 'progress' ? [f.event.sequence] : []));

describe('SSE backpressure', () => {
  it('gives a fast client and a paused client every event once, in order, then the end', async () => {
    const j = job(EVENTS, 300);
    await worker.submit(j);
    const reads = vi.spyOn(worker, 'events');
    const fast = (async () => {
      const frames: JobStreamEvent[] = [];
      for await (const f of new WorkerClient({ baseUrl: base }).events(j.job_id)) frames.push(f);
      return frames;
    })();
    const slowRes = await open(j.job_id);
    slowRes.pause(); // stop reading: the server's socket buffer fills up
    await worker.waitFor(j.job_id);
    await new Promise((r) => setTimeout(r, 200));
    const slow = collect(slowRes);
    slowRes.resume();
    const expected = Array.from({ length: EVENTS }, (_, i) => i);
    const [f, s] = await Promise.all([fast, slow]);
    for (const frames of [f, s]) {
      const seqs = sequences(frames);
      expect(seqs).toEqual(expected);
      expect(frames.at(-1)).toEqual({ type: 'end', job_id: j.job_id, status: 'completed' });
    }
    // The paused client was served by catching up from the store after its socket drained.
    expect(reads.mock.calls.filter(([id]) => id === j.job_id).length).toBeGreaterThan(2);
    reads.mockRestore();
  });

  it('cuts off a client that stops reading for longer than maxStallMs instead of buffering for it', async () => {
    const before = worker.listenerCount('progress');
    const j = job(EVENTS, 200, 32); // ~48 MiB of events: far more than socket buffers hold
    await worker.submit(j);
    const res = await open(j.job_id);
    res.pause();
    expect(worker.listenerCount('progress')).toBe(before + 1);
    await worker.waitFor(j.job_id);
    const t0 = Date.now();
    while (worker.listenerCount('progress') > before && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(worker.listenerCount('progress')).toBe(before);
    expect(Date.now() - t0).toBeLessThan(5000);
    const frames = await collect(res.resume()).catch(() => [] as JobStreamEvent[]);
    expect(sequences(frames).length).toBeLessThan(EVENTS);
    expect(frames.some((f) => f.type === 'end')).toBe(false);
  });
});

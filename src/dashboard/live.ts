// Two small API routes the dashboard needs and the job routes do not give:
// GET /api/v1/stats (counts, throughput over a window, appliance pool) and GET /api/v1/events,
// one Server-Sent Events stream of every job's status changes and progress, so the jobs list
// stays live without one stream per job. Both sit behind the API's bearer auth.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sharedAppliancePoolStatus } from '../../lib/appliance/index.js';
import { isTerminal, type ProgressEvent, type StatusChangeEvent, type Worker } from '../worker/types.js';
import type { Stats } from './ui/types.js';

/**
 * Jobs per minute and failures are counted over this window, from terminal status changes: in the
 * distributed mode those are relayed to every node, so an API-only node counts its workers' jobs.
 */
export const STATS_WINDOW_SECONDS = 600;

/** The stats document: the dashboard's own type (one definition for server and page) and when. */
export type DashboardStats = Stats & { timestamp: string; uptime_seconds: number };

const FAILED = new Set(['failed', 'timeout']);

/** Finish times of recent jobs, pruned to the window. */
class FinishWindow {
  #items: { at: number; failed: boolean }[] = [];
  add(status: string): void {
    this.#items.push({ at: Date.now(), failed: FAILED.has(status) });
  }
  snapshot(now = Date.now()): { finished: number; failed: number } {
    const from = now - STATS_WINDOW_SECONDS * 1000;
    while (this.#items.length && this.#items[0].at < from) this.#items.shift();
    return { finished: this.#items.length, failed: this.#items.filter((i) => i.failed).length };
  }
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function liveRoutes(app: FastifyInstance, worker: Worker): void {
  const started = Date.now();
  const window = new FinishWindow();
  const onFinished = (e: StatusChangeEvent) => {
    if (isTerminal(e.to)) window.add(e.to);
  };
  worker.on('status', onFinished);
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    worker.off('status', onFinished);
    for (const end of [...streams]) end();
  });

  app.get(
    '/api/v1/stats',
    {
      schema: {
        tags: ['dashboard'],
        summary: `Job counts, jobs/min and failures over the last ${STATS_WINDOW_SECONDS} s, appliance pool`,
      },
    },
    async (): Promise<DashboardStats> => {
      const counts = await worker.counts();
      const w = window.snapshot();
      const pool = sharedAppliancePoolStatus();
      return {
        timestamp: new Date().toISOString(),
        uptime_seconds: Math.round((Date.now() - started) / 1000),
        counts,
        active_jobs: (counts.running ?? 0) + (counts.assigned ?? 0),
        queue_depth: counts.pending ?? 0,
        window_seconds: STATS_WINDOW_SECONDS,
        finished_in_window: w.finished,
        failed_in_window: w.failed,
        jobs_per_minute: Math.round((w.finished / (STATS_WINDOW_SECONDS / 60)) * 100) / 100,
        appliances: {
          active: pool?.appliances ?? 0,
          drives: pool?.drives ?? 0,
          reserved: pool?.reserved ?? 0,
          queued: pool?.queued ?? 0,
          launches: pool?.launches ?? 0,
          launch_failures: pool?.launchFailures ?? 0,
        },
      };
    },
  );

  app.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Status changes and progress of every job as Server-Sent Events (live only, no replay)',
        description:
          'Frames: `event: status` (a status change), `event: progress` (a progress event), ' +
          '`event: resync` (events were dropped for a slow client: refetch the list).',
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => streamAll(worker, reply, streams, req.log),
  );
}

function streamAll(
  worker: Worker,
  reply: FastifyReply,
  streams: Set<() => void>,
  log: FastifyInstance['log'],
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': all jobs\n\n');
  // A client that cannot keep up loses events rather than growing our buffer; once the socket
  // drains it gets one `resync` and refetches what it shows.
  let lagging = false;
  const send = (event: string, data: unknown) => {
    if (lagging) return;
    if (!res.write(frame(event, data))) {
      lagging = true;
      res.once('drain', () => {
        lagging = false;
        send('resync', { reason: 'events were dropped while the connection was slow' });
      });
    }
  };
  const onStatus = (e: StatusChangeEvent) => send('status', e);
  const onProgress = (e: ProgressEvent) => send('progress', e);
  const heartbeat = setInterval(() => {
    if (!lagging) res.write(': keepalive\n\n');
  }, 15_000);
  heartbeat.unref();
  const cleanup = () => {
    clearInterval(heartbeat);
    worker.off('status', onStatus);
    worker.off('progress', onProgress);
    streams.delete(end);
  };
  function end() {
    cleanup();
    res.end();
  }
  worker.on('status', onStatus);
  worker.on('progress', onProgress);
  streams.add(end);
  res.on('close', cleanup);
  res.on('error', (err) => log.debug({ err }, 'events stream error'));
}

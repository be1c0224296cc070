// GET /api/v1/jobs/:id/events as Server-Sent Events. The store is the source of truth: stored
// events are replayed first, live ones are written straight through while the client keeps up.
// A slow client is never buffered without bound: when the socket's buffer is full we stop
// writing, and once it drains we catch up from the store (drop-to-replay); a client that stays
// blocked for too long is disconnected. The stream ends with an `end` event at a terminal status.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ProgressEvent } from '../protocol/schema.js';
import { isTerminal, type JobStatus, type StatusChangeEvent, type Worker } from '../worker/types.js';
import { sendError } from './errors.js';

export interface SseOptions {
  /** Comment line sent this often so proxies keep the connection (default 15 s). */
  heartbeatMs?: number;
  /** A client whose buffer stays full this long is disconnected (default 30 s). */
  maxStallMs?: number;
}

/** Open streams, so the server can end them on close instead of waiting for them. */
export type StreamRegistry = Set<() => void>;

const frame = (event: string, data: unknown, id?: number) =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export async function streamJobEvents(
  worker: Worker,
  jobId: string,
  after: number,
  req: FastifyRequest,
  reply: FastifyReply,
  streams: StreamRegistry,
  options: SseOptions = {},
): Promise<void> {
  const doc = await worker.get(jobId);
  if (!doc) {
    await sendError(reply, 404, 'NOT_FOUND', `Job ${jobId} not found`);
    return;
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': stream of progress events\n\n');

  let lastSent = after;
  let terminal: JobStatus | undefined;
  let closed = false;
  let lagging = false;
  let flushing = false;
  let again = false;
  let stallTimer: NodeJS.Timeout | undefined;

  const write = (chunk: string) => {
    if (res.write(chunk) || lagging) return;
    lagging = true;
    stallTimer = setTimeout(() => res.destroy(), options.maxStallMs ?? 30_000);
    res.once('drain', () => {
      clearTimeout(stallTimer);
      lagging = false;
      void flush();
    });
  };
  const writeEvent = (e: ProgressEvent) => {
    write(frame('progress', e, e.sequence));
    lastSent = e.sequence;
  };

  // Serialised catch-up from the store; ends the stream once the job is terminal and all is sent.
  const flush = async (): Promise<void> => {
    if (flushing) {
      again = true;
      return;
    }
    flushing = true;
    try {
      do {
        again = false;
        if (closed || lagging) return;
        const batch = await worker.events(jobId, lastSent);
        for (const e of batch) {
          if (closed || lagging) return;
          if (e.sequence > lastSent) writeEvent(e);
        }
        if (terminal && !again && !lagging && !closed) {
          res.end(frame('end', { job_id: jobId, status: terminal }));
          cleanup();
          return;
        }
      } while (again);
    } catch (err) {
      req.log.warn({ err, job_id: jobId }, 'event stream failed; closing it');
      res.destroy();
    } finally {
      flushing = false;
    }
  };

  const onProgress = (e: ProgressEvent) => {
    if (e.job_id !== jobId || closed) return;
    if (!flushing && !lagging && e.sequence === lastSent + 1) writeEvent(e);
    else void flush();
  };
  const onStatus = (e: StatusChangeEvent) => {
    if (e.job_id !== jobId || closed) return;
    if (!flushing && !lagging) write(frame('status', { job_id: jobId, status: e.to, attempt: e.attempt }));
    if (isTerminal(e.to)) {
      terminal = e.to;
      void flush();
    }
  };
  const heartbeat = setInterval(() => {
    if (!lagging && !closed) res.write(': keepalive\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  function cleanup() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearTimeout(stallTimer);
    worker.off('progress', onProgress);
    worker.off('status', onStatus);
    streams.delete(end);
  }
  function end() {
    if (!closed) res.end();
    cleanup();
  }
  streams.add(end);
  res.on('close', cleanup);
  // Subscribe before reading the status again: a transition between the two is not missed.
  worker.on('progress', onProgress);
  worker.on('status', onStatus);
  const now = await worker.get(jobId);
  if (now && isTerminal(now.status)) terminal = now.status;
  await flush();
}

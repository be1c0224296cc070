// Explore sessions: each holds one read-only appliance of its own (an unshared pool lease kept
// open) with the image's filesystems mounted, until it is closed or idle for the TTL. Closing
// ends the lease, and the pool kills the appliance. Images go through the same checks as a job's.
import { EventEmitter } from 'node:events';
import { ulid } from 'ulid';
import { AppliancePool } from '../../lib/appliance/index.js';
import { verifyFile } from '../../lib/checksum.js';
import { Explorer } from '../../lib/explore/index.js';
import { appliancePoolOptions, type WorkerConfig } from '../config.js';
import { prepareImage } from '../handlers/image.js';
import type { HandlerContext } from '../handlers/types.js';
import type { Logger } from '../logger.js';
import { WorkerError } from '../protocol/errors.js';

export interface ExploreImage {
  path: string;
  format?: string;
  checksum?: string;
}

export interface SessionInfo {
  id: string;
  image: { path: string; format: string };
  layout: Explorer['layout'];
  created_at: string;
  last_used_at: string;
  ttl_seconds: number;
}

/** One open session. */
export class ExploreSession {
  readonly id = ulid();
  readonly createdAt = new Date();
  lastUsed = new Date();
  #busy = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly explorer: Explorer,
    readonly image: { path: string; format: string },
    readonly end: () => void,
  ) {}

  info(ttlMs: number): SessionInfo {
    return {
      id: this.id,
      image: this.image,
      layout: this.explorer.layout,
      created_at: this.createdAt.toISOString(),
      last_used_at: this.lastUsed.toISOString(),
      ttl_seconds: ttlMs / 1000,
    };
  }

  /** Arms (or re-arms) the idle timer; not while a call is running. */
  arm(ttlMs: number, expire: () => void): void {
    clearTimeout(this.#timer);
    if (this.#busy > 0) return;
    this.#timer = setTimeout(expire, ttlMs);
    this.#timer.unref();
  }

  disarm(): void {
    clearTimeout(this.#timer);
  }

  enter(): void {
    this.#busy++;
    this.lastUsed = new Date();
    clearTimeout(this.#timer);
  }

  leave(): boolean {
    this.#busy--;
    this.lastUsed = new Date();
    return this.#busy === 0;
  }
}

export interface ExploreSessionsOptions {
  config: Readonly<WorkerConfig>;
  logger?: Logger;
  /** Default: config.explore.ttlMs. */
  ttlMs?: number;
  /** Default: config.explore.maxSessions. */
  maxSessions?: number;
}

export interface ExploreSessionEvents {
  opened: [id: string];
  closed: [id: string, reason: 'closed' | 'expired' | 'shutdown' | 'appliance'];
}

/** The sessions of one worker process. */
export class ExploreSessions extends EventEmitter<ExploreSessionEvents> {
  readonly ttlMs: number;
  readonly maxSessions: number;
  readonly #config: Readonly<WorkerConfig>;
  readonly #pool: AppliancePool;
  readonly #sessions = new Map<string, ExploreSession>();
  readonly #log: Logger | undefined;
  #opening = 0;

  constructor(options: ExploreSessionsOptions) {
    super();
    this.#config = options.config;
    this.ttlMs = options.ttlMs ?? options.config.explore.ttlMs;
    this.maxSessions = options.maxSessions ?? options.config.explore.maxSessions;
    this.#log = options.logger?.child({ component: 'explore' });
    this.#pool = new AppliancePool({
      ...appliancePoolOptions(options.config),
      maxAppliances: this.maxSessions,
      sharing: false,
      batchWindowMs: 0,
    });
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Appliances running for sessions (0 once every session is closed). */
  appliances(): number {
    return this.#pool.status().appliances;
  }

  /** Checks the image as a job's (allowed roots, format, backing chain, size, checksum) and opens a session. */
  async open(image: ExploreImage): Promise<ExploreSession> {
    let counted = false;
    try {
      const signal = new AbortController().signal;
      // prepareImage reads only the configuration, the signal and the job's constraints.
      const ctx = { config: this.#config, signal, job: {} } as unknown as HandlerContext<unknown>;
      const prepared = await prepareImage(ctx, image.path, { field: 'image', format: image.format });
      if (image.checksum !== undefined) {
        const r = await verifyFile(prepared.path, image.checksum).catch((err: unknown) => {
          throw new WorkerError('VALIDATION_ERROR', `Invalid image.checksum: ${(err as Error).message}`);
        });
        if (!r.ok) {
          throw new WorkerError(
            'IMAGE_CHECKSUM_MISMATCH',
            `Image checksum verification failed for ${image.path}`,
            {
              details: { expected: r.expected, actual: r.actual },
            },
          );
        }
      }
      if (this.#sessions.size + this.#opening >= this.maxSessions) {
        throw new WorkerError(
          'WORKER_UNAVAILABLE',
          `This worker has ${this.maxSessions} explore sessions open (the maximum); close one (DELETE /api/v1/explore/<id>) or wait for an idle one to expire`,
          { details: { max_sessions: this.maxSessions } },
        );
      }
      this.#opening++;
      counted = true;
      return await new Promise<ExploreSession>((resolve, reject) => {
        let opened: ExploreSession | undefined;
        void this.#pool
          .run(
            [{ path: prepared.path, format: prepared.format, readonly: true }],
            async (lease) => {
              const explorer = await Explorer.open(lease);
              let end!: () => void;
              const ended = new Promise<void>((r) => (end = r));
              opened = new ExploreSession(explorer, { path: prepared.path, format: prepared.format }, end);
              this.#sessions.set(opened.id, opened);
              opened.arm(this.ttlMs, () => this.#end(opened!.id, 'expired'));
              this.#log?.info({ session: opened.id, image: prepared.path }, 'explore session opened');
              this.emit('opened', opened.id);
              resolve(opened);
              await Promise.race([ended, new Promise((r) => lease.signal.addEventListener('abort', r))]);
              await explorer.close().catch(() => undefined);
            },
            { shareable: false },
          )
          .then(
            () => undefined,
            (err: unknown) => {
              if (!opened) reject(err);
            },
          )
          .finally(() => {
            // The appliance is gone (closed, expired, or died): the session with it.
            if (opened && this.#sessions.delete(opened.id)) this.emit('closed', opened.id, 'appliance');
          });
      });
    } finally {
      if (counted) this.#opening--;
    }
  }

  /** Runs `fn` on session `id`'s explorer, keeping it from expiring meanwhile. */
  async use<T>(id: string, fn: (explorer: Explorer) => Promise<T>): Promise<T> {
    const s = this.get(id);
    s.enter();
    try {
      return await fn(s.explorer);
    } finally {
      if (s.leave() && this.#sessions.has(id)) s.arm(this.ttlMs, () => this.#end(id, 'expired'));
    }
  }

  get(id: string): ExploreSession {
    const s = this.#sessions.get(id);
    if (!s) {
      throw new WorkerError(
        'NOT_FOUND',
        `No explore session ${id}: it was closed or expired; open a new one`,
        {
          details: { session_id: id },
        },
      );
    }
    return s;
  }

  list(): SessionInfo[] {
    return [...this.#sessions.values()].map((s) => s.info(this.ttlMs));
  }

  /** Closes a session: its appliance is killed. */
  close(id: string): void {
    this.get(id);
    this.#end(id, 'closed');
  }

  /** Closes every session and waits until their appliances are gone. */
  async closeAll(): Promise<void> {
    for (const id of [...this.#sessions.keys()]) this.#end(id, 'shutdown');
    await this.#pool.close();
  }

  #end(id: string, reason: ExploreSessionEvents['closed'][1]): void {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    s.disarm();
    s.end();
    this.#log?.info({ session: id, reason }, 'explore session closed');
    this.emit('closed', id, reason);
  }
}

// Worker membership: each worker writes its registration document (protocol §6) to a key with a
// TTL and refreshes it on every heartbeat; a worker that stops heart-beating expires and is gone.
// A sorted set of ids lets readers find the keys without SCAN; stale ids are pruned on read.
import type { Redis } from 'ioredis';
import type { WorkerRegistration } from '../protocol/schema.js';

export class Membership {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(workerId: string): string {
    return `${this.prefix}worker:${workerId}`;
  }

  async publish(reg: WorkerRegistration, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.key(reg.worker_id), JSON.stringify(reg), 'PX', ttlMs)
      .zadd(`${this.prefix}workers`, Date.now(), reg.worker_id)
      .exec();
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.multi().del(this.key(workerId)).zrem(`${this.prefix}workers`, workerId).exec();
  }

  /** Live workers (optionally of one pool), sorted by id. */
  async live(pool?: string): Promise<WorkerRegistration[]> {
    const ids = await this.redis.zrange(`${this.prefix}workers`, 0, -1);
    if (ids.length === 0) return [];
    const docs = await this.redis.mget(ids.map((id) => this.key(id)));
    const gone = ids.filter((_, i) => docs[i] === null);
    if (gone.length) await this.redis.zrem(`${this.prefix}workers`, ...gone);
    return docs
      .filter((d): d is string => d !== null)
      .map((d) => JSON.parse(d) as WorkerRegistration)
      .filter((r) => pool === undefined || r.configuration.worker_pool === pool)
      .sort((a, b) => a.worker_id.localeCompare(b.worker_id));
  }
}

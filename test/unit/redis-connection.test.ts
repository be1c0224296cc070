// The distributed worker's connections coalesce the commands of one tick into one socket write,
// without changing their order or their replies (the suite's redis-server, global setup).
import { afterAll, describe, expect, it } from 'vitest';
import { redisClient } from '../../src/distributed/connection.js';

const url = process.env.GUESTKIT_TEST_REDIS_URL;
const clients: ReturnType<typeof redisClient>[] = [];
afterAll(async () => {
  for (const c of clients) await c.quit();
});

/** Counts the socket's writes (a corked batch leaves through one _writev). */
function countWrites(socket: NonNullable<ReturnType<typeof redisClient>['stream']>) {
  const counts = { write: 0, writev: 0 };
  const s = socket as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...a) => (counts.write++, write(...a));
  s._writev = (...a) => (counts.writev++, writev(...a));
  return counts;
}

describe.skipIf(!url)('redisClient', () => {
  it("sends one tick's commands in one write, in order, with their own replies", async () => {
    const c = redisClient(url as string, 'test-coalesce');
    clients.push(c);
    await c.ping();
    const key = `t-coalesce-${process.pid}-${Date.now()}`;
    const counts = countWrites(c.stream);
    const replies = Promise.all([
      c.del(key),
      ...Array.from({ length: 20 }, (_, i) => c.rpush(key, String(i))),
      c.lrange(key, 0, -1),
      c.get(`${key}-missing`),
    ]);
    const [, ...rest] = await replies;
    expect(rest.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(rest[20]).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(rest[21]).toBeNull();
    expect(counts).toEqual({ write: 0, writev: 1 });

    // The next tick's command is a write of its own, not held back.
    await c.del(key);
    expect(counts.writev + counts.write).toBe(2);
  });

  it('keeps failing commands apart from the others in the batch', async () => {
    const c = redisClient(url as string, 'test-coalesce-errors');
    clients.push(c);
    await c.ping();
    const key = `t-coalesce-err-${process.pid}-${Date.now()}`;
    const settled = await Promise.allSettled([c.set(key, 'x'), c.lpush(key, 'y'), c.get(key)]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[2] as PromiseFulfilledResult<string>).value).toBe('x');
    await c.del(key);
  });
});

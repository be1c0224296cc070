import { describe, expect, it } from 'vitest';
import { LocalScheduler, backoffMs, type QueueEntry } from '../../src/worker/scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function entry(id: string, priority: number, seq: number, not_before: number | null = null): QueueEntry {
  return { job_id: id, priority, seq, not_before };
}

describe('LocalScheduler', () => {
  it('runs by priority then seq, never above the limit', async () => {
    const order: string[] = [];
    let active = 0;
    let peak = 0;
    const s = new LocalScheduler({
      maxConcurrent: 2,
      async run(e) {
        order.push(e.job_id);
        peak = Math.max(peak, ++active);
        await sleep(10);
        active--;
      },
    });
    s.pause();
    const items: [string, number][] = [
      ['a', 1],
      ['b', 5],
      ['c', 10],
      ['d', 5],
      ['e', 7],
      ['f', 1],
      ['g', 10],
    ];
    items.forEach(([id, p], i) => s.enqueue(entry(id, p, i)));
    expect(s.depth).toBe(7);
    s.resume();
    await sleep(0);
    await s.idle();
    await until(() => order.length === 7);
    expect(order).toEqual(['c', 'g', 'e', 'b', 'd', 'a', 'f']);
    expect(peak).toBe(2);
    expect(s.depth).toBe(0);
  });

  it('removed entries never run; delayed entries wait for not_before', async () => {
    const ran: [string, number][] = [];
    const s = new LocalScheduler({
      maxConcurrent: 4,
      async run(e) {
        ran.push([e.job_id, Date.now()]);
      },
    });
    s.pause();
    s.enqueue(entry('x', 5, 1));
    s.enqueue(entry('y', 5, 2));
    expect(s.remove('x')).toBe(true);
    expect(s.remove('x')).toBe(false);
    const t0 = Date.now();
    s.enqueue(entry('later', 10, 3, t0 + 60));
    s.resume();
    await until(() => ran.length === 2);
    expect(ran.map((r) => r[0])).toEqual(['y', 'later']);
    expect(ran[1][1] - t0).toBeGreaterThanOrEqual(55);
  });

  it('reports depth/active changes and exponential backoff', async () => {
    const seen: string[] = [];
    const s = new LocalScheduler({
      maxConcurrent: 1,
      run: async () => {
        await sleep(5);
      },
      onChange: (d, a) => seen.push(`${d}/${a}`),
    });
    s.enqueue(entry('a', 5, 1));
    s.enqueue(entry('b', 5, 2));
    await until(() => seen[seen.length - 1] === '0/0');
    expect(seen).toContain('1/1');
    expect([2, 3, 4, 5, 10].map((n) => backoffMs(n, 1000, 60_000))).toEqual([1000, 2000, 4000, 8000, 60_000]);
  });
});

async function until(pred: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timeout');
    await sleep(2);
  }
}

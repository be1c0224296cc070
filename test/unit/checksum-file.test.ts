// sha256File on a 256 MiB random file: equality with sha256sum, its own native threads, a free
// event loop, aborts that close the fd, throttled progress and concurrent hashes. (Strategies and
// stalled pipes: checksum-strategies.test.ts.)
import { execFile, spawn } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File, type Sha256Progress } from '../../lib/checksum.js';

const run = promisify(execFile);
const BIG = 256 * 1024 * 1024;

async function sha256sum(path: string): Promise<string> {
  const { stdout } = await run('sha256sum', ['-b', path]);
  return stdout.slice(0, 64);
}

function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

function openFds(target: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === target) n++;
    } catch {
      // the fd closed between readdir and readlink
    }
  }
  return n;
}

// Polls until the state holds; the test's own timeout is the only bound.
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

let dir: string;
let big: string;
let bigHex: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'guestkit-sha256-big-'));
  big = join(dir, 'random-256m');
  // head runs in a child: generating 256 MiB here would stall the test's own event loop.
  await run('sh', ['-c', `head -c ${BIG} /dev/urandom > '${big}'`]);
  bigHex = await sha256sum(big);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sha256File on a 256 MiB file', () => {
  it('hands what the page cache does not hold to the reader pipeline, digest and all', async () => {
    // Evict the file: written back first, as dd's nocache (POSIX_FADV_DONTNEED) drops clean
    // pages only.
    const evict = async () => {
      await run('sync', [big]);
      await run('dd', [`if=${big}`, 'iflag=nocache', 'count=0', 'status=none']);
    };
    const cachedBytes = async () =>
      Number((await run('fincore', ['-b', '-n', '-o', 'RES', big])).stdout.trim());
    const before = threadCount();
    // The threads the native code names: the hashing thread and the pipeline's reader.
    const seen = new Set<string>();
    const timer = setInterval(() => {
      for (const tid of readdirSync('/proc/self/task')) {
        try {
          const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
          if (name.startsWith('gk-sha256')) seen.add(name);
        } catch {
          // the thread ended meanwhile
        }
      }
    }, 2);
    try {
      // Nothing cached: the first read cannot be answered at once, the pipeline reads it all.
      await evict();
      expect(await cachedBytes()).toBeLessThan(BIG / 2);
      let used = '';
      expect(await sha256File(big, { onStrategy: (u) => (used = u) })).toBe(bigHex);
      expect([...seen].sort()).toEqual(['gk-sha256', 'gk-sha256-rd']);
      expect(used).toBe('pread');
      // The first quarter cached: hashed on one thread, the rest wherever the cache runs out
      // (the kernel's readahead races the digest), the digest carried over either way.
      await evict();
      await run('dd', [
        `if=${big}`,
        'of=/dev/null',
        'bs=1M',
        `count=${BIG / 4 / 1024 / 1024}`,
        'status=none',
      ]);
      expect(await sha256File(big)).toBe(bigHex);
      // All of it cached: one thread from start to end, and it says so.
      await run('dd', [`if=${big}`, 'of=/dev/null', 'bs=1M', 'status=none']);
      seen.clear();
      expect(await sha256File(big, { onStrategy: (u) => (used = u) })).toBe(bigHex);
      expect(used).toBe('cached');
      expect([...seen]).not.toContain('gk-sha256-rd');
    } finally {
      clearInterval(timer);
    }
    await until(() => threadCount() <= before); // joined: the next test counts from here
  });

  it('equals sha256sum, runs on a native thread of its own and keeps the event loop ticking', async () => {
    const before = threadCount();
    let peakThreads = before;
    let ticks = 0;
    let ticksAtFirstProgress = -1;
    const timer = setInterval(() => {
      ticks++;
      peakThreads = Math.max(peakThreads, threadCount());
    }, 5);
    const progress: Sha256Progress[] = [];
    const started = performance.now();
    const hex = await sha256File(big, {
      chunkSize: 256 * 1024,
      onProgress: (p) => {
        if (ticksAtFirstProgress < 0) ticksAtFirstProgress = ticks;
        progress.push(p);
      },
    });
    const elapsed = performance.now() - started;
    const ticksAtEnd = ticks;
    clearInterval(timer);

    expect(hex).toBe(bigHex);
    // Timers kept firing between the first progress report and the result: the hash ran off
    // the JS thread (on it, nothing would run until the digest was done). Lag is in the benchmark.
    expect(progress.length).toBeGreaterThan(1);
    expect(ticksAtFirstProgress).toBeGreaterThanOrEqual(0);
    expect(ticksAtEnd).toBeGreaterThan(ticksAtFirstProgress);
    // The hash runs on a thread of its own (the file is cached: one thread, see the next test),
    // not on a libuv pool worker, and it is gone afterwards.
    expect(peakThreads).toBeGreaterThanOrEqual(before + 1);
    await until(() => threadCount() <= before);
    expect(openFds(big)).toBe(0);

    // Throttled to ≤ 10 per second plus the final one, never going back, ending at the full size.
    expect(progress.length).toBeLessThanOrEqual(Math.floor(elapsed / 100) + 2);
    expect(progress.at(-1)).toEqual({ bytes: BIG, total: BIG });
    for (let i = 1; i < progress.length; i++)
      expect(progress[i].bytes).toBeGreaterThanOrEqual(progress[i - 1].bytes);
    console.log(
      `256 MiB: ${((BIG / elapsed) * 1e-6).toFixed(2)} GB/s, ${ticks} timer ticks, ` +
        `${progress.length} progress calls, threads ${before} → ${peakThreads}`,
    );
  });

  it('aborts mid-way, closing the fd and ending its threads', async () => {
    const before = threadCount();
    const controller = new AbortController();
    let aborted = false;
    let bytesAtAbort = 0;
    const pending = sha256File(big, {
      signal: controller.signal,
      chunkSize: 256 * 1024,
      onProgress: ({ bytes }) => {
        if (aborted) return;
        expect(openFds(big)).toBe(1);
        bytesAtAbort = bytes;
        aborted = true;
        controller.abort();
      },
    });
    const err = await pending.catch((e: unknown) => e);

    expect(aborted).toBe(true);
    expect(bytesAtAbort).toBeLessThan(BIG);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(openFds(big)).toBe(0);
    await until(() => threadCount() <= before);
  });

  it('aborts before the first chunk when the signal fires right after the call', async () => {
    const controller = new AbortController();
    const pending = sha256File(big, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(openFds(big)).toBe(0);
  });
});

describe('concurrent hashes', () => {
  it('hashes 8 different files at once, all correct', async () => {
    const files = Array.from({ length: 8 }, (_, i) => {
      const file = join(dir, `part-${i}`);
      const data = Buffer.alloc((i + 1) * 3 * 1024 * 1024 + i * 977);
      for (let j = 0; j < data.length; j += 4096) data[j] = (i * 7 + j) & 0xff;
      writeFileSync(file, data);
      return file;
    });
    const ours = await Promise.all(files.map((f, i) => sha256File(f, { chunkSize: (i + 1) * 64 * 1024 })));
    const expected = await Promise.all(files.map(sha256sum));
    expect(new Set(ours).size).toBe(8);
    expect(ours).toEqual(expected);
  });
});

describe('files that cannot be mapped are streamed', () => {
  it('hashes a FIFO fed by another process, with an unknown total', async () => {
    const fifo = join(dir, 'fifo');
    await run('mkfifo', [fifo]);
    const source = join(dir, 'part-3');
    const writer = spawn('sh', ['-c', `cat '${source}' > '${fifo}'`]);
    const written = new Promise((r) => writer.on('close', r));
    const progress: Sha256Progress[] = [];
    const hex = await sha256File(fifo, { onProgress: (p) => progress.push(p) });
    expect(await written).toBe(0);
    expect(hex).toBe(await sha256sum(source));
    expect(progress.at(-1)?.total).toBe(0);
  });

  it('hashes a /proc file whose size reads as 0', async () => {
    expect(await sha256File('/proc/version')).toBe(await sha256sum('/proc/version'));
  });

  it('aborts an endless stream promptly', async () => {
    const fifo = join(dir, 'endless');
    await run('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `exec cat /dev/zero > '${fifo}'`]);
    const controller = new AbortController();
    const pending = sha256File(fifo, {
      signal: controller.signal,
      onProgress: ({ bytes }) => {
        if (bytes > 0) controller.abort();
      },
    });
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    writer.kill();
    expect(openFds(fifo)).toBe(0);
  });
});

// A file that shrinks under a read returns a short read; under a mapping it raises SIGBUS, which
// the guard must turn into an error instead of killing the process.
describe('a file truncated while it is hashed', () => {
  it.each(['auto', 'mmap', 'mmap-populate', 'direct'] as const)(
    '%s: rejects with EIO and the process lives on',
    async (strategy) => {
      const file = join(dir, `shrinking-${strategy}`);
      const size = 128 * 1024 * 1024;
      let truncated = false;
      let err: unknown;
      // The file is cut at the first progress report that comes before half of it is hashed. On a
      // loaded machine the JS thread can get its first report only after that (the hashing
      // threads ran on): such a try is not a truncation at all, so it is made again.
      for (let attempt = 1; attempt <= 5 && !truncated; attempt++) {
        await run('sh', ['-c', `head -c ${size} /dev/urandom > '${file}'`]);
        err = await sha256File(file, {
          strategy,
          chunkSize: 64 * 1024,
          onProgress: ({ bytes }) => {
            if (truncated || bytes > size / 2) return;
            truncateSync(file, 1024 * 1024);
            truncated = true;
          },
        }).catch((e: unknown) => e);
      }
      expect(truncated).toBe(true);
      expect(err).toMatchObject({ code: 'EIO', syscall: 'read', path: file });
      expect(await sha256File(file, { strategy })).toBe(await sha256sum(file));
    },
  );
});

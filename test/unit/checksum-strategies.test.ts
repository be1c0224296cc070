// sha256File's reader strategies (pread, the memory maps, O_DIRECT) against sha256sum at awkward
// sizes, an abort that settles in every strategy, and pipes whose writer stalls or never comes:
// the reader waits in poll(2) beside the abort eventfd, so those aborts settle too.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHA256_STRATEGIES, sha256File } from '../../lib/checksum.js';

const run = promisify(execFile);
const BIG = 192 * 1024 * 1024 + 12_345; // not a multiple of a page: O_DIRECT's tail is exercised

async function sha256sum(path: string): Promise<string> {
  const { stdout } = await run('sha256sum', ['-b', path]);
  return stdout.slice(0, 64);
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

/** Nice value of each of this process's threads called `name` (field 19 of /proc/…/stat). */
function threadNices(prefix: string): number[] {
  const nices: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith(prefix)) continue;
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      nices.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return nices;
}

function hashingThreads(): number {
  return threadNices('gk-sha256').length;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

let dir: string;
let big: string;
let bigHex: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'guestkit-sha256-strategies-'));
  big = join(dir, 'random');
  await run('sh', ['-c', `head -c ${BIG} /dev/urandom > '${big}'`]);
  bigHex = await sha256sum(big);
}, 120_000);
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe.each(SHA256_STRATEGIES)('strategy %s', (strategy) => {
  it('equals sha256sum at block, page and chunk boundaries', async () => {
    const chunkSize = 64 * 1024;
    for (const size of [1, 63, 4095, 4096, 4097, chunkSize - 1, chunkSize + 1, 3 * chunkSize + 512]) {
      const file = join(dir, `${strategy}-${size}`);
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
      writeFileSync(file, data);
      expect(await sha256File(file, { strategy, chunkSize, buffers: 2 })).toBe(await sha256sum(file));
    }
    let used = '';
    expect(await sha256File(big, { strategy, onStrategy: (u) => (used = u) })).toBe(bigHex);
    // auto reads a file smaller than memory through the page cache; just written, it is all there.
    expect(used).toBe(strategy === 'auto' ? 'cached' : strategy);
  });

  it('settles as aborted mid-way, with the fd closed and its threads ended', async () => {
    const controller = new AbortController();
    let bytesAtAbort = -1;
    let fdsWhileHashing = -1;
    const pending = sha256File(big, {
      strategy,
      chunkSize: 64 * 1024,
      signal: controller.signal,
      onProgress: ({ bytes }) => {
        if (bytesAtAbort >= 0) return;
        fdsWhileHashing = openFds(big);
        bytesAtAbort = bytes;
        controller.abort();
      },
    });
    const err = await pending.catch((e: unknown) => e);
    expect(bytesAtAbort).toBeGreaterThan(0);
    expect(bytesAtAbort).toBeLessThan(BIG);
    expect(fdsWhileHashing).toBe(1);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    // The promise settles only after the native side closed the file and joined its helper.
    expect(openFds(big)).toBe(0);
    await until(() => hashingThreads() === 0);
  });
});

describe('priority', () => {
  it("'background' runs both hashing threads at nice 10; 'normal' leaves them at the process's", async () => {
    const seen: Record<string, number[]> = {};
    for (const priority of ['background', 'normal'] as const) {
      let nices: number[] = [];
      await sha256File(big, {
        priority,
        strategy: 'pread', // the reader pipeline: two threads (auto on a cached file uses one)
        chunkSize: 64 * 1024,
        onProgress: () => {
          if (nices.length < 2) nices = threadNices('gk-sha256');
        },
      });
      seen[priority] = nices;
    }
    // The process may itself run niced (a CI job under `nice`): 'normal' inherits that.
    const own = getPriority();
    expect(seen).toEqual({ background: [10, 10], normal: [own, own] });
  });
});

describe('options', () => {
  it('rejects an unknown strategy, buffer count or priority before any I/O', async () => {
    const file = join(dir, 'no-such-file');
    await expect(sha256File(file, { strategy: 'nope' as 'auto' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(sha256File(file, { buffers: 5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(sha256File(file, { priority: 'low' as 'normal' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });
});

describe('pipes', () => {
  async function fifo(name: string): Promise<string> {
    const path = join(dir, name);
    await run('mkfifo', [path]);
    return path;
  }

  it('an abort settles while no writer has opened the FIFO yet', async () => {
    const path = await fifo('never-opened');
    const controller = new AbortController();
    const pending = sha256File(path, { signal: controller.signal });
    // The job thread is up and waiting (in poll, not in a blocking open) before the abort.
    await until(() => hashingThreads() === 2);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(openFds(path)).toBe(0);
    await until(() => hashingThreads() === 0);
  });

  it('an abort settles while the writer holds the FIFO open and sends nothing more', async () => {
    const path = await fifo('stalled');
    // Writes 3 bytes, then keeps the FIFO open without writing until killed.
    const writer = spawn('sh', ['-c', `exec 3>'${path}'; printf abc >&3; exec sleep 600 3>&3`], {
      stdio: 'ignore',
      detached: true,
    });
    children.push(writer);
    const controller = new AbortController();
    const pending = sha256File(path, { signal: controller.signal, chunkSize: 64 * 1024 });
    await until(() => hashingThreads() === 2);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    // The writer is still there: the hash ended by the abort, not by an EOF.
    expect(writer.exitCode).toBeNull();
    expect(writer.signalCode).toBeNull();
    expect(openFds(path)).toBe(0);
    writer.kill('SIGKILL');
  });

  it('waits for a late writer instead of taking the empty FIFO for EOF', async () => {
    const path = await fifo('late');
    const pending = sha256File(path);
    await until(() => hashingThreads() === 2);
    const writer = spawn('sh', ['-c', `printf abc > '${path}'`], { stdio: 'ignore' });
    children.push(writer);
    expect(await pending).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes a writer that opens and closes without writing as empty input', async () => {
    const path = await fifo('empty');
    const pending = sha256File(path);
    const writer = spawn('sh', ['-c', `: > '${path}'`], { stdio: 'ignore' });
    children.push(writer);
    expect(await pending).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

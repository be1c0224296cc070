// guestkit.convert through a real worker (SQLite store in a temp dir) and the real qemu-img: every
// OS fixture to every format and back, guest content compared with `qemu-img compare`; cancel
// mid-way leaves no partial file and no qemu-img process; existing targets are refused; the
// older flat payload form. No appliance launches.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHandler } from '../../src/handlers/convert/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { CONVERT_FORMATS, compareImages, imageInfo, probeQemuImg } from '../../src/tools/qemu-img.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { job, startTestWorker, until, type TestWorker } from '../unit/worker-helpers.js';

const execFileP = promisify(execFile);

let tw: TestWorker;
let fixtures: Fixture[];

async function run(data: unknown, timeout = 120): Promise<ResultDocument> {
  const envelope = job('guestkit.convert', data, (b) => b.timeout(timeout));
  await tw.worker.submit(envelope);
  await tw.worker.waitFor(envelope.job_id);
  return (await tw.worker.result(envelope.job_id)) as ResultDocument;
}

interface ConvertData {
  target: { path: string; format: string; virtual_size_bytes: number; allocated_size_bytes: number };
  source: { format: string; checksum_verified: boolean };
  verification: { performed: boolean; identical: boolean };
}

beforeAll(async () => {
  fixtures = await getFixtures(['debian-like', 'rhel-like', 'debian-like-vmdk', 'ubuntu-like-vdi']);
  tw = await startTestWorker(
    // Room for the free-space test's image, whose virtual size passes the disk's free space.
    { maxConcurrent: 2, maxDiskSizeGb: 1024 * 1024 },
    new HandlerRegistry().register(convertHandler),
  );
});

afterAll(async () => {
  await tw?.cleanup();
});

describe('guestkit.convert', () => {
  it('is advertised because qemu-img is here, with zstd when the build has it', async () => {
    const caps = await tw.worker.capabilities();
    expect(caps.capabilities.operations).toContain('guestkit.convert');
    const probe = await probeQemuImg();
    expect(probe.convertFormats).toEqual([...CONVERT_FORMATS]);
    expect(probe.compressionTypes).toContain('zlib');
  });

  it('converts every fixture to every format and back with identical guest content', async () => {
    const hops: Promise<void>[] = [];
    for (const fx of fixtures) {
      for (const format of CONVERT_FORMATS) {
        hops.push(
          (async () => {
            const there = join(tw.dir, `${fx.name}-to.${format}`);
            const back = join(tw.dir, `${fx.name}-${format}-back.${fx.format}`);
            const r1 = await run({
              source: { path: fx.path, format: fx.format },
              target: { path: there, format },
              options: { verify_after_convert: true },
            });
            expect(r1.status, JSON.stringify(r1.error)).toBe('completed');
            expect(r1.outputs.primary).toBe(there);
            const d1 = r1.data as ConvertData;
            expect(d1.verification).toMatchObject({ performed: true, identical: true });
            expect(d1.target.format).toBe(format);
            expect(d1.target.virtual_size_bytes).toBeGreaterThanOrEqual(fx.facts.virtualSizeBytes);
            expect((await imageInfo(there)).format).toBe(format);
            const r2 = await run({
              source: { path: there, format },
              target: { path: back, format: fx.format },
              options: { verify_after_convert: false },
            });
            expect(r2.status, JSON.stringify(r2.error)).toBe('completed');
            // Independent check, not the handler's own verification.
            const cmp = await compareImages(
              { path: fx.path, format: fx.format },
              { path: back, format: fx.format },
            );
            expect(cmp.identical, `${fx.name} → ${format} → ${fx.format}: ${cmp.message}`).toBe(true);
          })(),
        );
      }
    }
    await Promise.all(hops);
  });

  it('compresses qcow2 (zlib, and zstd when supported), verifies the source checksum first', async () => {
    const fx = fixtures[0];
    const sum = (await execFileP('sha256sum', [fx.path])).stdout.split(' ')[0];
    const probe = await probeQemuImg();
    for (const type of probe.compressionTypes) {
      const target = join(tw.dir, `compressed-${type}.qcow2`);
      const r = await run({
        source: { path: fx.path, format: 'raw', checksum: `sha256:${sum.toUpperCase()}` },
        target: { path: target, format: 'qcow2', compression: true, compression_type: type },
      });
      expect(r.status, JSON.stringify(r.error)).toBe('completed');
      expect((r.data as ConvertData).source.checksum_verified).toBe(true);
      expect(r.metrics?.disk_read_bytes).toBeGreaterThanOrEqual((await stat(fx.path)).size);
      const info = await imageInfo(target);
      expect(info.compressionType).toBe(type);
      expect(info.actualSize).toBeLessThan((await stat(fx.path)).size);
    }
    const bad = await run({
      source: { path: fx.path, checksum: '0'.repeat(64) },
      target: { path: join(tw.dir, 'never.qcow2'), format: 'qcow2' },
    });
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH', details: { actual: sum } });
    expect(await readdir(tw.dir)).not.toContain('never.qcow2');
  });

  it('preserve_sparse keeps holes; false allocates every byte', async () => {
    const fx = fixtures[1]; // qcow2: mostly unallocated
    const sizes: Record<string, number> = {};
    for (const sparse of [true, false]) {
      const target = join(tw.dir, `sparse-${sparse}.raw`);
      const r = await run({
        source: { path: fx.path },
        target: { path: target, format: 'raw' },
        options: { preserve_sparse: sparse, verify_after_convert: true },
      });
      expect(r.status, JSON.stringify(r.error)).toBe('completed');
      sizes[String(sparse)] = (r.data as ConvertData).target.allocated_size_bytes;
    }
    expect(sizes.false).toBeGreaterThanOrEqual(fx.facts.virtualSizeBytes);
    expect(sizes.true).toBeLessThan(fx.facts.virtualSizeBytes / 2);
  });

  it('refuses a conversion whose worst case does not fit the free space, writing nothing (#14, medium)', async () => {
    // A few hundred KB of qcow2 whose virtual size is past the free space of the target's filesystem.
    const fsInfo = await statfs(tw.dir);
    const free = fsInfo.bavail * fsInfo.bsize;
    const gib = Math.ceil(free / 1024 ** 3) + 16;
    const image = join(tw.dir, 'huge-virtual.qcow2');
    await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', image, `${gib}G`]);
    expect((await stat(image)).size).toBeLessThan(1024 * 1024);
    const target = join(tw.dir, 'huge-virtual.raw');
    const r = await run({
      source: { path: image },
      target: { path: target, format: 'raw' },
      options: { preserve_sparse: false },
    });
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(r.error?.message).toMatch(
      /Not enough free space.*preserve_sparse false.*keep preserve_sparse true/,
    );
    expect(await readdir(tw.dir)).not.toContain('huge-virtual.raw');
    expect((await readdir(tw.dir)).filter((f) => f.includes('huge-virtual.raw'))).toEqual([]);
    // The same image with holes kept needs only its metadata: it converts.
    const sparse = await run({
      source: { path: image },
      target: { path: join(tw.dir, 'huge-virtual-sparse.qcow2'), format: 'qcow2' },
      options: { preserve_sparse: true, verify_after_convert: false },
    });
    expect(sparse.status, JSON.stringify(sparse.error)).toBe('completed');
  });

  it('refuses an existing target and leaves it untouched', async () => {
    const target = join(tw.dir, 'occupied.qcow2');
    await writeFile(target, 'precious');
    const r = await run({
      source: { path: fixtures[0].path },
      target: { path: target, format: 'qcow2' },
    });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(r.error?.message).toMatch(/already exists/);
    expect((await stat(target)).size).toBe('precious'.length);
  });

  it('accepts the older flat form and derives a free target name next to the source', async () => {
    const src = join(tw.dir, 'flat-src.vmdk');
    expect(
      (await run({ source: { path: fixtures[0].path }, target: { path: src, format: 'vmdk' } })).status,
    ).toBe('completed');
    const r1 = await run({
      image: { path: src, format: 'vmdk' },
      target_format: 'qcow2',
      compression: false,
    });
    expect(r1.status, JSON.stringify(r1.error)).toBe('completed');
    expect(r1.outputs.primary).toBe(join(tw.dir, 'flat-src.qcow2'));
    const r2 = await run({ image: { path: src }, target_format: 'qcow2', compression: true });
    expect(r2.status, JSON.stringify(r2.error)).toBe('completed');
    expect(r2.outputs.primary).toBe(join(tw.dir, 'flat-src-1.qcow2'));
    expect((await imageInfo(join(tw.dir, 'flat-src-1.qcow2'))).compressionType).toBe('zlib');
  });

  it('refuses paths outside the allowed roots and bad payloads', async () => {
    const outside = await run({
      source: { path: '/etc/passwd' },
      target: { path: join(tw.dir, 'x.raw'), format: 'raw' },
    });
    expect(outside.error?.code).toBe('PATH_NOT_ALLOWED');
    const badTarget = await run({
      source: { path: fixtures[0].path },
      target: { path: '/var/tmp/escape.qcow2', format: 'qcow2' },
    });
    expect(badTarget.error?.code).toBe('PATH_NOT_ALLOWED');
    await expect(
      tw.worker.submit(
        job('guestkit.convert', { source: { path: 'a' }, target: { path: 'b', format: 'vhd' } }),
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/target\.format/) });
    await expect(
      tw.worker.submit(
        job('guestkit.convert', {
          source: { path: 'a' },
          target: { path: 'b', format: 'raw', compression: true },
        }),
      ),
    ).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringMatching(/qcow2 targets only/),
    });
  });

  it('refuses a backing file outside the allowed roots and a declared format that is wrong', async () => {
    const outsideDir = await mkdtemp(join(tmpdir(), 'gk-outside-'));
    try {
      const base = join(outsideDir, 'base.raw');
      await execFileP('qemu-img', ['create', '-q', '-f', 'raw', base, '1M']);
      const top = join(tw.dir, 'sneaky.qcow2');
      await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', top]);
      const r = await run({
        source: { path: top },
        target: { path: join(tw.dir, 'sneaky.raw'), format: 'raw' },
      });
      expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
      expect(r.error?.message).toContain(base);
    } finally {
      await rm(outsideDir, { recursive: true, force: true });
    }
    const wrong = await run({
      source: { path: fixtures[1].path, format: 'vmdk' },
      target: { path: join(tw.dir, 'wrong.raw'), format: 'raw' },
    });
    expect(wrong.error?.code).toBe('UNSUPPORTED_IMAGE_FORMAT');
    expect(wrong.error?.message).toMatch(/is qcow2, not vmdk/);
  });

  it('cancel mid-way kills qemu-img and removes the partial file', async () => {
    // Random data compressed with zlib: slow enough (CPU-bound) that the cancel lands mid-copy.
    const src = join(tw.dir, 'random.raw');
    await execFileP('dd', ['if=/dev/urandom', `of=${src}`, 'bs=1M', 'count=512', 'status=none']);
    const target = join(tw.dir, 'random.qcow2');
    const envelope = job('guestkit.convert', {
      source: { path: src, format: 'raw' },
      target: { path: target, format: 'qcow2', compression: true },
    });
    let midway = false;
    const onProgress = (e: { job_id: string; phase: string; progress_percent: number }) => {
      if (e.job_id === envelope.job_id && e.phase === 'conversion' && e.progress_percent > 0) midway = true;
    };
    tw.worker.on('progress', onProgress);
    await tw.worker.submit(envelope);
    await until(() => midway, 60_000);
    const partial = (await readdir(tw.dir)).filter((f) => f.startsWith('.random.qcow2.partial-'));
    expect(partial).toHaveLength(1);
    expect((await tw.worker.cancel(envelope.job_id)).outcome).toBe('stopping');
    const doc = await tw.worker.waitFor(envelope.job_id);
    tw.worker.off('progress', onProgress);
    expect(doc.status).toBe('cancelled');
    // The handler's cleanup finishes just after the status flips.
    await until(async () => !(await readdir(tw.dir)).some((f) => f.includes('random.qcow2')), 5000);
    const { stdout } = await execFileP('pgrep', ['-f', target]).catch(() => ({ stdout: '' }));
    expect(stdout.trim()).toBe('');
  });
});

// The qemu-img wrapper: progress parsing and argument building (pure), then the real qemu-img on
// tiny images (milliseconds): info, overlay create, commit, compare, convert, errors and abort.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backingChain,
  commitImage,
  compareImages,
  convertArgs,
  convertImage,
  createOverlay,
  imageInfo,
  parseProgress,
  probeQemuImg,
  QemuImgError,
  runQemuImg,
} from '../../src/tools/qemu-img.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gk-qemu-img-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parsing and arguments', () => {
  it('takes the last percentage of a -p chunk', () => {
    expect(parseProgress('    (0.00/100%)\r    (12.50/100%)\r')).toBe(12.5);
    expect(parseProgress('    (100.00/100%)\r\n')).toBe(100);
    expect(parseProgress('no progress here')).toBeUndefined();
  });

  it('builds convert arguments for compression and sparseness', () => {
    const base = { source: 's', sourceFormat: 'raw', target: 't', targetFormat: 'qcow2' };
    expect(convertArgs(base)).toEqual(['convert', '-p', '-f', 'raw', '-O', 'qcow2', 's', 't']);
    expect(convertArgs({ ...base, compress: true, compressionType: 'zstd', sparse: false })).toEqual([
      'convert',
      '-p',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-c',
      '-o',
      'compression_type=zstd',
      '-S',
      '0',
      's',
      't',
    ]);
  });
});

describe('real qemu-img', () => {
  it('probes formats and compression once (cached)', async () => {
    const a = probeQemuImg();
    expect(probeQemuImg()).toBe(a);
    const p = await a;
    expect(p.available).toBe(true);
    expect(p.version).toMatch(/^\d+\.\d+/);
    expect(p.convertFormats).toEqual(expect.arrayContaining(['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx']));
    expect(p.compressionTypes[0]).toBe('zlib');
  });

  it('reports a missing binary as unavailable with a fix-it message', async () => {
    const p = await probeQemuImg({ binary: join(dir, 'no-such-qemu-img') });
    expect(p).toMatchObject({ available: false, formats: [] });
    expect(p.reason).toMatch(/not found.*qemu-utils/);
  });

  it('overlay → write → commit puts the write into the base; compare sees it', async () => {
    const base = join(dir, 'base.raw');
    const overlay = join(dir, 'overlay.qcow2');
    await runQemuImg(['create', '-q', '-f', 'raw', base, '4M']);
    await createOverlay(overlay, base, 'raw');
    const chain = await backingChain(overlay);
    expect(chain.map((c) => c.format)).toEqual(['qcow2', 'raw']);
    expect((await imageInfo(overlay)).fullBackingFilename).toBe(base);
    // `convert -n` writes into the existing overlay (its backing link stays), like a guest would.
    const data = join(dir, 'data.raw');
    await writeFile(data, Buffer.alloc(4 * 1024 * 1024, 0x5a));
    await runQemuImg(['convert', '-n', '-f', 'raw', '-O', 'qcow2', data, overlay]);
    expect(
      (await compareImages({ path: base, format: 'raw' }, { path: overlay, format: 'qcow2' })).identical,
    ).toBe(false);
    let last = -1;
    await commitImage(overlay, { onProgress: (p) => (last = p) });
    expect(last).toBe(100);
    const cmp = await compareImages({ path: base, format: 'raw' }, { path: data, format: 'raw' });
    expect(cmp).toEqual({ identical: true, message: 'Images are identical.' });
  });

  it('fails with QemuImgError carrying stderr and the exit code', async () => {
    const err = await imageInfo(join(dir, 'missing.qcow2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QemuImgError);
    expect(err).toMatchObject({ code: 'EXECUTION_ERROR', details: { exit_code: 1 } });
    expect((err as Error).message).toMatch(/qemu-img info failed: .*missing\.qcow2/);
  });

  it('reports progress while converting', async () => {
    const src = join(dir, 'p.raw');
    await writeFile(src, Buffer.alloc(8 * 1024 * 1024, 1));
    const seen: number[] = [];
    await convertImage({
      source: src,
      sourceFormat: 'raw',
      target: join(dir, 'p.vdi'),
      targetFormat: 'vdi',
      onProgress: (p) => seen.push(p),
    });
    expect(seen.at(-1)).toBe(100);
    expect((await imageInfo(join(dir, 'p.vdi'))).format).toBe('vdi');
  });

  it('abort kills the child and rejects with the reason once it has exited', async () => {
    const fake = join(dir, 'slow-qemu-img');
    await writeFile(fake, '#!/bin/sh\necho started > "$1"\nexec sleep 30\n');
    await chmod(fake, 0o755);
    const ac = new AbortController();
    const t0 = performance.now();
    const p = runQemuImg([join(dir, 'started')], { binary: fake, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop now')), 200);
    await expect(p).rejects.toThrow('stop now');
    expect(performance.now() - t0).toBeLessThan(5000);
    const pre = new AbortController();
    pre.abort(new Error('already'));
    await expect(runQemuImg(['--version'], { signal: pre.signal })).rejects.toThrow('already');
  });
});

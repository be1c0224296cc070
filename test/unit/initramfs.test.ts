// The initramfs reader against archives made by the real tools (cpio, gzip, xz, zstd, lz4), laid
// out as distributions ship them: an uncompressed early-microcode archive, then the main one.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInitramfs, rebuildInitramfs, S_IFLNK, S_IFMT, S_IFREG } from '../../lib/initramfs/index.js';

let dir: string;
const sh = (cmd: string, input?: Buffer) =>
  execFileSync('sh', ['-c', cmd], { cwd: dir, input, maxBuffer: 1 << 28 });

/** A newc archive of the tree at `root` made by GNU cpio. */
const cpioOf = (root: string) => sh(`cd ${root} && find . | LC_ALL=C sort | cpio -o -H newc --quiet`);

const COMPRESSORS: Record<string, string> = {
  gzip: 'gzip -c',
  xz: 'xz -0 --check=crc32 -c',
  zstd: 'zstd -q -c',
  lz4: 'lz4 -l -c -q',
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'initramfs-test-'));
  const main = join(dir, 'main');
  mkdirSync(join(main, 'lib/modules/6.1.0-18-amd64/kernel/drivers/block'), { recursive: true });
  mkdirSync(join(main, 'conf'), { recursive: true });
  writeFileSync(
    join(main, 'lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk.ko'),
    'ELF'.repeat(5000),
  );
  writeFileSync(
    join(main, 'lib/modules/6.1.0-18-amd64/modules.dep'),
    'kernel/drivers/block/virtio_blk.ko:\n',
  );
  writeFileSync(join(main, 'conf/modules'), 'ext4\n');
  symlinkSync('usr/bin', join(main, 'bin'));
  // Incompressible filler so the streams span several blocks/chunks.
  writeFileSync(join(main, 'filler'), randomBytes(600_000));
  const early = join(dir, 'early');
  mkdirSync(join(early, 'kernel/x86/microcode'), { recursive: true });
  writeFileSync(join(early, 'kernel/x86/microcode/GenuineIntel.bin'), 'microcode');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readInitramfs', () => {
  for (const [name, cmd] of Object.entries(COMPRESSORS)) {
    it(`reads an early cpio followed by a ${name} archive, as the kernel unpacks it`, async () => {
      const image = Buffer.concat([cpioOf('early'), sh(cmd, cpioOf('main'))]);
      const r = await readInitramfs(image);
      expect(r.complete).toBe(true);
      expect(r.segments.map((s) => s.compression)).toEqual(['none', name]);
      expect(r.files.has('kernel/x86/microcode/GenuineIntel.bin')).toBe(true);
      const ko = r.files.get('lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk.ko');
      expect(ko?.data.toString()).toBe('ELF'.repeat(5000));
      expect((ko!.mode & S_IFMT) === S_IFREG).toBe(true);
      const link = r.files.get('bin');
      expect((link!.mode & S_IFMT) === S_IFLNK && link!.data.toString()).toBe('usr/bin');
      expect(r.files.get('filler')?.data.length).toBe(600_000);
    });
  }

  it('finds the end of a compressed stream and reads the segment after it', async () => {
    for (const cmd of [COMPRESSORS.gzip, COMPRESSORS.xz, COMPRESSORS.zstd]) {
      const later = sh(
        `mkdir -p late/conf && printf 'virtio_blk\\n' > late/conf/modules && cd late && find . | cpio -o -H newc --quiet`,
      );
      const image = Buffer.concat([sh(cmd, cpioOf('main')), Buffer.alloc(3), sh('gzip -c', later)]);
      const r = await readInitramfs(image);
      expect(r.segments).toHaveLength(2);
      expect(r.complete).toBe(true);
      expect(r.files.get('conf/modules')?.data.toString()).toBe('virtio_blk\n'); // later wins
    }
  });

  it('reports what it cannot read instead of guessing', async () => {
    const bz = Buffer.concat([cpioOf('early'), sh('bzip2 -c', cpioOf('main'))]);
    const r = await readInitramfs(bz);
    expect(r.complete).toBe(false);
    expect(r.segments[1]).toMatchObject({ compression: 'bzip2', error: expect.stringMatching(/bzip2/) });
    const garbage = await readInitramfs(Buffer.from('this is not an initramfs'));
    expect(garbage).toMatchObject({ complete: false, segments: [], trailingBytes: 24 });
    const cut = sh(COMPRESSORS.xz, cpioOf('main'));
    const truncated = await readInitramfs(cut.subarray(0, cut.length >> 1));
    expect(truncated.complete).toBe(false);
    expect(truncated.segments[0].error).toBeDefined();
  });

  it('refuses a stream that decompresses past the limit (decompression bomb)', async () => {
    const bomb = sh('head -c 50000000 /dev/zero | gzip -c');
    const r = await readInitramfs(bomb, { maxUnpackedBytes: 1 << 20 });
    expect(r.segments[0].error).toMatch(/more than 1048576 bytes/);
    const zbomb = sh('head -c 50000000 /dev/zero | zstd -q -c');
    expect((await readInitramfs(zbomb, { maxUnpackedBytes: 1 << 20 })).segments[0].error).toMatch(
      /more than/,
    );
  });
});

describe('rebuildInitramfs', () => {
  it('keeps the early archive byte for byte and adds files that GNU cpio reads back', async () => {
    const early = cpioOf('early');
    const image = Buffer.concat([early, sh(COMPRESSORS.zstd, cpioOf('main'))]);
    const rebuilt = await rebuildInitramfs(image, [
      {
        path: 'lib/modules/6.1.0-18-amd64/kernel/drivers/scsi/virtio_scsi.ko',
        mode: S_IFREG | 0o644,
        uid: 0,
        gid: 0,
        mtime: 0,
        data: Buffer.from('scsi'),
      },
      {
        path: 'conf/modules',
        mode: S_IFREG | 0o644,
        uid: 0,
        gid: 0,
        mtime: 0,
        data: Buffer.from('ext4\nvirtio_scsi\n'),
      },
    ]);
    expect(rebuilt.subarray(0, early.length).equals(early)).toBe(true);
    const r = await readInitramfs(rebuilt);
    expect(r.segments.map((s) => s.compression)).toEqual(['none', 'gzip']);
    expect(r.files.get('conf/modules')?.data.toString()).toBe('ext4\nvirtio_scsi\n');
    expect(r.files.get('filler')?.data.length).toBe(600_000);
    // The oracle: gzip + GNU cpio list the new stream, parents before children.
    const listing = sh('gzip -dc | cpio -t --quiet', rebuilt.subarray(early.length)).toString().split('\n');
    const ko = listing.indexOf('lib/modules/6.1.0-18-amd64/kernel/drivers/scsi/virtio_scsi.ko');
    expect(ko).toBeGreaterThan(listing.indexOf('lib/modules/6.1.0-18-amd64/kernel/drivers/scsi'));
    expect(listing.indexOf('lib/modules/6.1.0-18-amd64/kernel/drivers/scsi')).toBeGreaterThan(-1);
  });
});

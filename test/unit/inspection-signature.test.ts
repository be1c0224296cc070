// readSignature on hand-built superblocks (ext4, xfs, swap, LVM2 PV) and on real ext4/swap images
// made by mke2fs/mkswap, compared with what blkid says of the same files.
import { execFile } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSignature, SIGNATURE_BYTES } from '../../lib/inspection/signature.js';

const run = promisify(execFile);

const UUID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const uuidBytes = (uuid: string) => Buffer.from(uuid.replace(/-/g, ''), 'hex');

function ext4(opts: { uuid?: string; label?: string; incompat?: number } = {}): Buffer {
  const b = Buffer.alloc(SIGNATURE_BYTES);
  b.writeUInt16LE(0xef53, 1024 + 0x38);
  b.writeUInt32LE(opts.incompat ?? 0x2c2, 1024 + 0x60); // filetype|extents|64bit|flex_bg
  if (opts.uuid) uuidBytes(opts.uuid).copy(b, 1024 + 0x68);
  if (opts.label !== undefined) b.write(opts.label, 1024 + 0x78, 16, 'utf8');
  return b;
}

function xfs(uuid: string, label?: string): Buffer {
  const b = Buffer.alloc(SIGNATURE_BYTES);
  b.write('XFSB', 0, 'latin1');
  b.writeUInt32BE(4096, 4); // sb_blocksize
  uuidBytes(uuid).copy(b, 32);
  if (label !== undefined) b.write(label, 108, 12, 'utf8');
  return b;
}

function swap(uuid: string, label?: string): Buffer {
  const b = Buffer.alloc(SIGNATURE_BYTES);
  b.writeUInt32LE(1, 1024); // version
  b.writeUInt32LE(255, 1028); // last_page
  uuidBytes(uuid).copy(b, 1036);
  if (label !== undefined) b.write(label, 1052, 16, 'utf8');
  b.write('SWAPSPACE2', 4086, 'latin1');
  return b;
}

function lvmPv(): Buffer {
  const b = Buffer.alloc(SIGNATURE_BYTES);
  b.write('LABELONE', 512, 'latin1');
  b.writeBigUInt64LE(1n, 520); // sector number of the label
  b.writeUInt32LE(32, 532); // offset of the contents
  b.write('LVM2 001', 536, 'latin1');
  b.write('hXy3kZ0pQm9aLw2nVb7cRt5eYu1iOp8s', 544, 'latin1'); // PV id
  return b;
}

describe('readSignature (hand-built)', () => {
  it('ext4 with UUID and label', () => {
    expect(readSignature(ext4({ uuid: UUID, label: 'rootfs' }))).toEqual({
      type: 'ext4',
      uuid: UUID,
      label: 'rootfs',
    });
  });

  it('ext4 with a 16-byte label (no NUL) and none at all', () => {
    expect(readSignature(ext4({ uuid: UUID, label: 'abcdefghijklmnop' }))?.label).toBe('abcdefghijklmnop');
    const bare = readSignature(ext4({ uuid: UUID }));
    expect(bare).toEqual({ type: 'ext4', uuid: UUID, label: undefined });
  });

  it('an all-zero ext4 UUID is no UUID', () => {
    expect(readSignature(ext4({ label: 'x' }))).toEqual({ type: 'ext4', uuid: undefined, label: 'x' });
  });

  it('ext3 (journal, nothing ext3 does not know) and ext2 (no journal) by their feature bits', () => {
    const ext3 = ext4({ uuid: UUID, incompat: 0x2 });
    ext3.writeUInt32LE(0x4, 1024 + 0x5c); // has_journal
    expect(readSignature(ext3)?.type).toBe('ext3');
    expect(readSignature(ext4({ uuid: UUID, incompat: 0x2 }))?.type).toBe('ext2');
    const testFs = ext4({ uuid: UUID });
    testFs.writeUInt32LE(0x4, 1024 + 0x160); // EXT2_FLAGS_TEST_FILESYS: ext4dev, blkid's call
    expect(readSignature(testFs)).toBe(undefined);
  });

  it('an ext journal device (incompat JOURNAL_DEV 0x8) is left to blkid', () => {
    expect(readSignature(ext4({ uuid: UUID, incompat: 0x8 }))).toBe(undefined);
    expect(readSignature(ext4({ uuid: UUID, incompat: 0x2c2 | 0x8 }))).toBe(undefined);
  });

  it('xfs with UUID and label', () => {
    expect(readSignature(xfs(UUID, 'data'))).toEqual({ type: 'xfs', uuid: UUID, label: 'data' });
    expect(readSignature(xfs(UUID))).toEqual({ type: 'xfs', uuid: UUID, label: undefined });
  });

  it('swap with UUID and label', () => {
    expect(readSignature(swap(UUID, 'swap0'))).toEqual({ type: 'swap', uuid: UUID, label: 'swap0' });
    expect(readSignature(swap(UUID))).toEqual({ type: 'swap', uuid: UUID, label: undefined });
  });

  it('LVM2 physical volume', () => {
    expect(readSignature(lvmPv())).toEqual({
      type: 'LVM2_member',
      uuid: 'hXy3kZ-0pQm-9aLw-2nVb-7cRt-5eYu-1iOp8s',
    });
  });

  it('LABELONE without the LVM2 type is not a PV', () => {
    const b = lvmPv();
    b.write('XXXX 001', 536, 'latin1');
    expect(readSignature(b)).toBe(undefined);
  });

  it('zeroes, random non-signatures and short buffers → undefined', () => {
    expect(readSignature(Buffer.alloc(SIGNATURE_BYTES))).toBe(undefined);
    const mbrOnly = Buffer.alloc(SIGNATURE_BYTES);
    mbrOnly[510] = 0x55;
    mbrOnly[511] = 0xaa;
    expect(readSignature(mbrOnly)).toBe(undefined);
    expect(readSignature(ext4({ uuid: UUID }).subarray(0, 4096))).toBe(undefined);
    expect(readSignature(Buffer.alloc(0))).toBe(undefined);
  });
});

function which(cmd: string): string | undefined {
  return ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].map((d) => join(d, cmd)).find((p) => existsSync(p));
}

function head(path: string): Buffer {
  const b = Buffer.alloc(SIGNATURE_BYTES);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, b, 0, SIGNATURE_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  return b;
}

async function blkid(path: string): Promise<Record<string, string>> {
  const { stdout } = await run(which('blkid')!, ['-p', '-o', 'export', path]);
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('readSignature (real images vs blkid)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'guestkit-signature-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const mke2fs = which('mke2fs');
  const mkswap = which('mkswap');
  const haveBlkid = which('blkid') !== undefined;

  it.skipIf(!mke2fs || !haveBlkid)('ext4 made by mke2fs', async () => {
    const file = join(dir, 'ext4.img');
    const uuid = 'd1b2c3d4-e5f6-4789-9abc-def012345678';
    await run(mke2fs!, ['-q', '-F', '-t', 'ext4', '-U', uuid, '-L', 'guestroot', file, '4M']);
    const sig = readSignature(head(file));
    const tags = await blkid(file);
    expect(tags.TYPE).toBe('ext4');
    expect(sig).toEqual({ type: 'ext4', uuid: tags.UUID, label: tags.LABEL });
    expect(sig?.uuid).toBe(uuid);
    expect(sig?.label).toBe('guestroot');
  });

  it.skipIf(!mke2fs || !haveBlkid)("ext2, ext3 and ext4 made by mke2fs get blkid's exact type", async () => {
    for (const [type, extra] of [
      ['ext2', []],
      ['ext3', []],
      ['ext4', []],
      ['ext4', ['-O', '^extent,^64bit,^flex_bg,^huge_file,^dir_nlink,^extra_isize,^metadata_csum']],
      ['ext2', ['-O', '^has_journal']],
    ] as const) {
      const file = join(dir, `${type}.img`);
      await run(mke2fs!, ['-q', '-F', '-t', type, ...extra, '-L', 'old', file, '4M']);
      const tags = await blkid(file);
      expect(readSignature(head(file)), `${type} ${extra.join(' ')}`).toEqual({
        type: tags.TYPE,
        uuid: tags.UUID,
        label: 'old',
      });
    }
  });

  it.skipIf(!mkswap || !haveBlkid)('swap made by mkswap', async () => {
    const file = join(dir, 'swap.img');
    writeFileSync(file, '');
    truncateSync(file, 1024 * 1024);
    const uuid = '0b9e4f6a-7c1d-4e2f-8a3b-5c6d7e8f9a0b';
    await run(mkswap!, ['-U', uuid, '-L', 'guestswap', file]);
    const sig = readSignature(head(file));
    const tags = await blkid(file);
    expect(tags.TYPE).toBe('swap');
    expect(sig).toEqual({ type: 'swap', uuid: tags.UUID, label: tags.LABEL });
    expect(sig).toEqual({ type: 'swap', uuid, label: 'guestswap' });
  });
});

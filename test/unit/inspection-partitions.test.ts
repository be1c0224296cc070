// readPartitionTable on real tables written by sfdisk (dos and gpt), compared with sfdisk's own
// JSON dump of the same file; layouts it leaves to parted (extended partitions) come back undefined.
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTITION_TABLE_BYTES, readPartitionTable } from '../../lib/inspection/partitions.js';

const run = promisify(execFile);
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'guestkit-partitions-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function head(file: string): Buffer {
  const b = Buffer.alloc(PARTITION_TABLE_BYTES);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, b, 0, b.length, 0);
  } finally {
    closeSync(fd);
  }
  return b;
}

async function disk(name: string, script: string): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, '');
  truncateSync(file, 64 * 1024 * 1024);
  await run('sh', ['-c', `printf '%s' "$1" | sfdisk -q "$2"`, 'sh', script, file]);
  return file;
}

/** What sfdisk says of the table: partition number, start and size in bytes. */
async function dump(file: string): Promise<{ number: number; startBytes: number; sizeBytes: number }[]> {
  const { stdout } = await run('sfdisk', ['--json', file]);
  const table = (
    JSON.parse(stdout) as { partitiontable: { partitions: { node: string; start: number; size: number }[] } }
  ).partitiontable;
  return table.partitions.map((p) => ({
    number: Number(/(\d+)$/.exec(p.node)![1]),
    startBytes: p.start * 512,
    sizeBytes: p.size * 512,
  }));
}

describe('readPartitionTable', () => {
  it('reads an MBR with primaries in slots 1, 2 and 4 (numbers follow the slots)', async () => {
    const file = await disk(
      'dos.img',
      'label: dos\n1: start=2048, size=20480, type=83\n2: size=8192, type=82\n4: size=4096, type=83\n',
    );
    const table = readPartitionTable(head(file));
    expect(table?.scheme).toBe('dos');
    expect(table?.partitions).toEqual(await dump(file));
    expect(table?.partitions.map((p) => p.number)).toEqual([1, 2, 4]);
  });

  it('reads a GPT (entries from LBA 2)', async () => {
    const file = await disk(
      'gpt.img',
      'label: gpt\nsize=2048, type=21686148-6449-6E6F-744E-656564454649\nsize=40960, type=L\nsize=8192, type=S\n',
    );
    const table = readPartitionTable(head(file));
    expect(table?.scheme).toBe('gpt');
    expect(table?.partitions).toEqual(await dump(file));
    expect(table?.partitions).toHaveLength(3);
  });

  it('leaves extended partitions, a missing signature and a short read to parted', async () => {
    const file = await disk(
      'ext.img',
      'label: dos\nsize=8192, type=83\nsize=40960, type=5\nsize=4096, type=83\n',
    );
    expect(readPartitionTable(head(file))).toBe(undefined);
    expect(readPartitionTable(Buffer.alloc(PARTITION_TABLE_BYTES))).toBe(undefined);
    expect(readPartitionTable(Buffer.alloc(512))).toBe(undefined);
  });
});

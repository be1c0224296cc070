// A disk's partition table read from its first sectors (MBR primaries or GPT with the usual 128
// entries from LBA 2): numbers, starts and sizes as parted reports them, without a parted process
// (~0.3 s each under TCG). Layouts outside that (extended partitions, odd GPT placement, other
// sector sizes) return undefined and the caller asks libguestfs.

export interface TablePartition {
  /** Partition number as Linux and parted count them (MBR slot, GPT entry index, from 1). */
  number: number;
  startBytes: number;
  sizeBytes: number;
}

export interface PartitionTable {
  scheme: 'dos' | 'gpt';
  partitions: TablePartition[];
}

const SECTOR = 512;
/** Bytes to read from the start of a disk for {@link readPartitionTable}: MBR, GPT header, 128 entries. */
export const PARTITION_TABLE_BYTES = 34 * SECTOR;
const EXTENDED = new Set([0x05, 0x0f, 0x85]);

function gpt(b: Buffer): PartitionTable | undefined {
  const h = SECTOR;
  if (b.toString('latin1', h, h + 8) !== 'EFI PART') return undefined;
  const entriesLba = b.readBigUInt64LE(h + 72);
  const count = b.readUInt32LE(h + 80);
  const size = b.readUInt32LE(h + 84);
  if (entriesLba !== 2n || size < 128 || 2 * SECTOR + count * size > b.length) return undefined;
  const partitions: TablePartition[] = [];
  for (let i = 0; i < count; i++) {
    const at = 2 * SECTOR + i * size;
    if (b.subarray(at, at + 16).every((x) => x === 0)) continue; // unused entry
    const first = b.readBigUInt64LE(at + 32);
    const last = b.readBigUInt64LE(at + 40);
    if (last < first) return undefined;
    partitions.push({
      number: i + 1,
      startBytes: Number(first) * SECTOR,
      sizeBytes: Number(last - first + 1n) * SECTOR,
    });
  }
  return { scheme: 'gpt', partitions };
}

/** The table in the first {@link PARTITION_TABLE_BYTES} of a disk, or undefined (ask parted). */
export function readPartitionTable(b: Buffer): PartitionTable | undefined {
  if (b.length < PARTITION_TABLE_BYTES || b.readUInt16LE(510) !== 0xaa55) return undefined;
  const slots = [0, 1, 2, 3].map((i) => ({
    number: i + 1,
    type: b[446 + 16 * i + 4],
    start: b.readUInt32LE(446 + 16 * i + 8),
    sectors: b.readUInt32LE(446 + 16 * i + 12),
  }));
  if (slots.some((s) => s.type === 0xee)) return gpt(b);
  if (slots.some((s) => EXTENDED.has(s.type))) return undefined;
  const partitions = slots
    .filter((s) => s.type !== 0 && s.sectors > 0)
    .map((s) => ({ number: s.number, startBytes: s.start * SECTOR, sizeBytes: s.sectors * SECTOR }));
  return { scheme: 'dos', partitions };
}

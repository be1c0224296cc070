// Block-device facts the fast inspection already read (signatures, partition tables, LVM PVs),
// served to the report's filesystem and storage sections so they need no blkid, blockdev or parted
// process of their own; whatever is not known is asked of libguestfs as before.
import { diskOfDevice } from '../devices.js';
import type { GuestfsPartition } from '../generated/actions.js';
import type { Guestfs } from '../guestfs.js';
import type { PartitionTable } from './partitions.js';

export interface BlockCache {
  /** blkid tags (at least TYPE) per device whose signature was read. */
  tags: Map<string, Record<string, string>>;
  /** Partition tables per whole disk, when they matched list_partitions. */
  tables: Map<string, PartitionTable>;
  /** list_partitions of the appliance. */
  partitions: string[];
  /** LVM physical volumes (devices with an LVM2 label). */
  pvs: string[];
}

/** libguestfs' block-device calls, answered from a {@link BlockCache} where it knows. */
export class BlockView {
  constructor(
    readonly guestfs: Guestfs,
    private readonly cache?: BlockCache,
  ) {}

  #partition(device: string): { disk: string; number: number } | undefined {
    const disk = diskOfDevice(device);
    const number = /(\d+)$/.exec(device.slice(disk.length))?.[1];
    return number && this.cache?.tables.has(disk) ? { disk, number: Number(number) } : undefined;
  }

  /** blkid's tags of a device (TYPE, UUID, LABEL, …). */
  async blkid(device: string): Promise<Record<string, string>> {
    return this.cache?.tags.get(device) ?? this.guestfs.blkid(device);
  }

  async vfsType(device: string): Promise<string> {
    return this.cache?.tags.get(device)?.TYPE ?? this.guestfs.vfsType(device);
  }

  /** Size in bytes of a device (blockdev --getsize64). */
  async size(device: string): Promise<number> {
    const p = this.#partition(device);
    const entry = p && this.cache!.tables.get(p.disk)!.partitions.find((e) => e.number === p.number);
    return entry ? entry.sizeBytes : Number(await this.guestfs.blockdevGetsize64(device));
  }

  async listPartitions(): Promise<string[]> {
    return this.cache ? [...this.cache.partitions] : this.guestfs.listPartitions();
  }

  /** part_list of a whole disk. */
  async partList(disk: string): Promise<GuestfsPartition[]> {
    const table = this.cache?.tables.get(disk);
    if (!table) return this.guestfs.partList(disk);
    return table.partitions.map((p) => ({
      part_num: p.number,
      part_start: BigInt(p.startBytes),
      part_end: BigInt(p.startBytes + p.sizeBytes - 1),
      part_size: BigInt(p.sizeBytes),
    }));
  }

  async pvs(): Promise<string[]> {
    return this.cache ? [...this.cache.pvs] : this.guestfs.pvs();
  }
}

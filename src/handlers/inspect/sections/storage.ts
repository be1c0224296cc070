// Storage of one image: its partitions, the LVM objects living on its disks, and the guest's
// fstab. Only the image's own disks: other drives may share the appliance.
import { diskOfDevice } from '../../../../lib/appliance/index.js';
import type { BlockView } from '../../../../lib/inspection/index.js';
import type { FstabEntry, PartitionInfo, StorageInfo } from '../report.js';
import { meaningfulLines } from '../guest.js';

export function parseFstab(text: string | null): FstabEntry[] {
  return meaningfulLines(text).flatMap((line) => {
    const [spec, mountpoint, type, options = 'defaults'] = line.split(/\s+/);
    return spec && mountpoint && type ? [{ spec, mountpoint, type, options }] : [];
  });
}

export async function collectStorage(
  blocks: BlockView,
  disks: readonly string[],
  fstab: string | null,
): Promise<StorageInfo> {
  const g = blocks.guestfs;
  const mine = (dev: string) => disks.includes(diskOfDevice(dev));
  const [allParts, tables, allPvs] = await Promise.all([
    blocks.listPartitions().catch(() => [] as string[]),
    Promise.all(disks.map((d) => blocks.partList(d).catch(() => []))),
    blocks.pvs().catch(() => [] as string[]),
  ]);
  const parts = allParts.filter(mine);
  // vfs_type of our partitions only: list_filesystems would probe every device of the appliance.
  const types = await Promise.all(parts.map((p) => blocks.vfsType(p).catch(() => '')));
  const fsTypes = Object.fromEntries(parts.map((p, i) => [p, types[i]]));
  const partitions: PartitionInfo[] = parts.map((device) => {
    const disk = disks.indexOf(diskOfDevice(device));
    const number = Number(/(\d+)$/.exec(device)?.[1] ?? 0);
    const entry = (tables[disk] ?? []).find((e) => e.part_num === number);
    return {
      device,
      number,
      start_bytes: Number(entry?.part_start ?? 0),
      size_bytes: Number(entry?.part_size ?? 0),
      filesystem: fsTypes[device] || 'unknown',
    };
  });
  const pvs = allPvs.filter(mine);
  if (pvs.length === 0) return { partitions, lvm: { pvs: [], vgs: [], lvs: [] }, fstab: parseFstab(fstab) };
  // A VG belongs to this image when one of its PVs is on its disks.
  const [allVgs, allLvs, pvUuidList] = await Promise.all([
    g.vgs().catch(() => [] as string[]),
    g.lvs().catch(() => [] as string[]),
    Promise.all(pvs.map((p) => g.pvuuid(p).catch(() => ''))),
  ]);
  const pvUuids = new Set(pvUuidList);
  const vgPvs = await Promise.all(allVgs.map((vg) => g.vgpvuuids(vg).catch(() => [] as string[])));
  const vgs = allVgs.filter((_, i) => vgPvs[i].some((u) => pvUuids.has(u)));
  const lvs = allLvs.filter((lv) => vgs.includes(lv.split('/')[2] ?? ''));
  return { partitions, lvm: { pvs, vgs, lvs }, fstab: parseFstab(fstab) };
}

// Storage of one image: its partitions, the LVM objects living on its disks, and the guest's
// fstab. Only the image's own disks: other drives may share the appliance.
import { diskOfDevice } from '../../../../lib/appliance.js';
import type { Guestfs } from '../../../../lib/guestfs.js';
import type { FstabEntry, PartitionInfo, StorageInfo } from '../report.js';
import { meaningfulLines } from '../guest.js';

export function parseFstab(text: string | null): FstabEntry[] {
  return meaningfulLines(text).flatMap((line) => {
    const [spec, mountpoint, type, options = 'defaults'] = line.split(/\s+/);
    return spec && mountpoint && type ? [{ spec, mountpoint, type, options }] : [];
  });
}

export async function collectStorage(
  g: Guestfs,
  disks: readonly string[],
  fstab: string | null,
): Promise<StorageInfo> {
  const mine = (dev: string) => disks.includes(diskOfDevice(dev));
  const [allParts, tables, allPvs, allVgs, allLvs] = await Promise.all([
    g.listPartitions().catch(() => [] as string[]),
    Promise.all(disks.map((d) => g.partList(d).catch(() => []))),
    g.pvs().catch(() => [] as string[]),
    g.vgs().catch(() => [] as string[]),
    g.lvs().catch(() => [] as string[]),
  ]);
  const parts = allParts.filter(mine);
  const [types, numbers] = await Promise.all([
    Promise.all(parts.map((p) => g.vfsType(p).catch(() => ''))),
    Promise.all(parts.map((p) => g.partToPartnum(p).catch(() => 0))),
  ]);
  const partitions: PartitionInfo[] = parts.map((device, i) => {
    const disk = disks.indexOf(diskOfDevice(device));
    const entry = (tables[disk] ?? []).find((e) => e.part_num === numbers[i]);
    return {
      device,
      number: numbers[i],
      start_bytes: entry?.part_start ?? 0,
      size_bytes: entry?.part_size ?? 0,
      filesystem: types[i] || 'unknown',
    };
  });
  const pvs = allPvs.filter(mine);
  // A VG belongs to this image when one of its PVs is on its disks.
  const pvUuids = new Set(await Promise.all(pvs.map((p) => g.pvuuid(p).catch(() => ''))));
  const vgPvs = await Promise.all(allVgs.map((vg) => g.vgpvuuids(vg).catch(() => [] as string[])));
  const vgs = allVgs.filter((_, i) => vgPvs[i].some((u) => pvUuids.has(u)));
  const lvs = allLvs.filter((lv) => vgs.includes(lv.split('/')[2] ?? ''));
  return { partitions, lvm: { pvs, vgs, lvs }, fstab: parseFstab(fstab) };
}

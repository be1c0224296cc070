// What a device reference in fstab, crypttab or root= points at on this disk. Device names are
// compared as the report has them (the image alone: first disk /dev/sda).
import type { InspectionReport } from '../inspect/report.js';

export type Resolution =
  | { status: 'found'; device: string; how: string }
  /** A bus name (/dev/sdb1, /dev/vda2): resolves today, or not, but changes with the disk bus. */
  | { status: 'bus-name'; device: string | null; how: string }
  | { status: 'missing'; how: string }
  /** Not checkable offline (PARTUUID, network filesystems, by-path names). */
  | { status: 'unverified'; how: string };

const BUS_NAME = /^\/dev\/((?:[shv]d|xvd)[a-z]+)(\d*)$|^\/dev\/(nvme\d+n\d+)(?:p(\d+))?$/;

/**
 * The filesystems of the guest's own disk. In a shared appliance libguestfs may list a device the
 * guest's fstab names that is another job's drive (/dev/sdb1): only the partitions and LVs the
 * storage section found on the root's disk count.
 */
function ownFilesystems(report: InspectionReport): InspectionReport['filesystems'] {
  const storage = report.storage;
  if (!storage) return report.filesystems;
  const own = new Set([...storage.partitions.map((p) => p.device), ...storage.lvm.lvs]);
  const disk = /^(\/dev\/[a-z]+)\d*$/.exec(report.operating_system.root)?.[1];
  return report.filesystems.filter((f) => own.has(f.device) || (disk !== undefined && f.device === disk));
}

export function resolveDevice(spec: string, report: InspectionReport): Resolution {
  const fss = ownFilesystems(report);
  const byKey = (key: 'uuid' | 'label', value: string, how: string): Resolution => {
    const fs = fss.find((f) =>
      key === 'uuid' ? f.uuid.toLowerCase() === value.toLowerCase() : f.label === value,
    );
    return fs
      ? { status: 'found', device: fs.device, how: `${spec} is ${fs.type} on ${fs.device}` }
      : { status: 'missing', how };
  };
  const unquote = (v: string) => v.replace(/^"(.*)"$/, '$1');
  if (/^UUID=/i.test(spec))
    return byKey('uuid', unquote(spec.slice(5)), `no filesystem on the disk has ${spec}`);
  if (/^LABEL=/i.test(spec))
    return byKey('label', unquote(spec.slice(6)), `no filesystem on the disk has ${spec}`);
  const byUuid = /^\/dev\/disk\/by-uuid\/(.+)$/.exec(spec);
  if (byUuid) return byKey('uuid', byUuid[1], `no filesystem on the disk has UUID ${byUuid[1]}`);
  const byLabel = /^\/dev\/disk\/by-label\/(.+)$/.exec(spec);
  if (byLabel) return byKey('label', byLabel[1], `no filesystem on the disk has label ${byLabel[1]}`);
  if (/^PART(UUID|LABEL)=/i.test(spec) || spec.startsWith('/dev/disk/')) {
    return { status: 'unverified', how: `${spec} names a partition entry, not checked offline` };
  }
  const lvs = report.storage?.lvm.lvs ?? [];
  const mapper = /^\/dev\/mapper\/(.+)$/.exec(spec);
  if (mapper || /^\/dev\/[^/]+\/[^/]+$/.test(spec)) {
    // /dev/mapper/vg-lv (dashes doubled inside names) or /dev/vg/lv.
    const lv = mapper
      ? lvs.find((l) => `/dev/mapper/${l.slice(5).replace(/-/g, '--').replace('/', '-')}` === spec)
      : lvs.find((l) => l === spec);
    if (lv) return { status: 'found', device: lv, how: `logical volume ${lv}` };
    if (mapper && !lvs.length)
      return {
        status: 'unverified',
        how: `${spec} is a device-mapper name (LUKS or LVM not active offline)`,
      };
    return { status: 'missing', how: `no logical volume ${spec} on the disk` };
  }
  const bus = BUS_NAME.exec(spec);
  if (bus) {
    const fs = fss.find((f) => f.device === spec);
    return {
      status: 'bus-name',
      device: fs ? fs.device : null,
      how: fs
        ? `${spec} is ${fs.type} UUID=${fs.uuid} on this disk, named by bus`
        : `${spec} does not exist on this disk`,
    };
  }
  return { status: 'unverified', how: `${spec} is not a block device reference` };
}

/** fstab types that do not name a block device of the guest's disks. */
export const VIRTUAL_FS = new Set([
  'proc',
  'sysfs',
  'tmpfs',
  'devpts',
  'devtmpfs',
  'swap-file',
  'nfs',
  'nfs4',
  'cifs',
  'smbfs',
  'fuse',
  'none',
  'bind',
  'securityfs',
  'cgroup',
  'cgroup2',
  'debugfs',
  'hugetlbfs',
  'mqueue',
  'efivarfs',
  'binfmt_misc',
  'autofs',
  'overlay',
  'sshfs',
  'glusterfs',
  'ceph',
]);

/** Mount options that let a boot go on when the device is not there. */
export function optional(options: string): boolean {
  return options
    .split(',')
    .some((o) => o === 'nofail' || o === 'noauto' || o.startsWith('x-systemd.automount'));
}

// parseFstab/resolveFstab on fstabs as installers write them, against a described appliance
// (devices in drive order, block devices with their UUIDs/labels, LVs). The expected answers are
// libguestfs 1.48's inspect_get_filesystems for the same fstab (checked against guestfsd 1.48.6
// where noted), except the deliberate preference for the root's own disks on UUID/label lookups.
import { describe, expect, it } from 'vitest';
import { parseFstab, resolveFstab, type BlockDevice, type FstabContext } from '../../lib/inspection/fstab.js';

const ROOT_UUID = '0a3c8a4e-6f0e-4b47-9d0f-1f2a3b4c5d6e';
const BOOT_UUID = '5d1e2c3b-8a9f-4e6d-b1c2-a3b4c5d6e7f8';
const DATA_UUID = 'c7b1a2d3-e4f5-4a6b-8c9d-0e1f2a3b4c5d';
const SWAP_UUID = '9f8e7d6c-5b4a-4321-8fed-cba987654321';

/** One disk (/dev/sda: 1 boot, 2 root, 3 swap) unless more are given. */
function context(over: Partial<FstabContext> = {}): FstabContext {
  const blocks: BlockDevice[] = [
    { device: '/dev/sda1', disks: ['/dev/sda'], uuid: BOOT_UUID, label: 'boot' },
    { device: '/dev/sda2', disks: ['/dev/sda'], uuid: ROOT_UUID, label: 'rootfs' },
    { device: '/dev/sda3', disks: ['/dev/sda'], uuid: SWAP_UUID },
  ];
  return {
    root: '/dev/sda2',
    rootDisks: ['/dev/sda'],
    devices: ['/dev/sda'],
    blocks,
    lvs: new Set(),
    ...over,
  };
}

const resolve = (text: string, ctx: FstabContext = context()) => resolveFstab(parseFstab(text)!, ctx);

describe('parseFstab', () => {
  it('skips comments and blank lines; keeps \\040 escapes verbatim, as Augeas does', () => {
    const text = [
      '# /etc/fstab: static file system information.',
      '#',
      '# <file system> <mount point>   <type>  <options>       <dump>  <pass>',
      '',
      '   ',
      `UUID=${ROOT_UUID} /               ext4    errors=remount-ro 0       1`,
      '\t# indented comment',
      '/dev/sdb1\t/mnt/My\\040Files\tvfat\tdefaults\t0\t0',
      'LABEL=My\\040Disk /data xfs defaults 0 0 # trailing comment',
      'tmpfs /tmp tmpfs defaults',
    ].join('\n');
    expect(parseFstab(text)).toEqual([
      { spec: `UUID=${ROOT_UUID}`, mountpoint: '/', vfstype: 'ext4' },
      { spec: '/dev/sdb1', mountpoint: '/mnt/My\\040Files', vfstype: 'vfat' },
      { spec: 'LABEL=My\\040Disk', mountpoint: '/data', vfstype: 'xfs' },
      { spec: 'tmpfs', mountpoint: '/tmp', vfstype: 'tmpfs' },
    ]);
  });

  it('an escaped LABEL= names no filesystem: the entry is dropped (libguestfs through Augeas)', () => {
    const ctx = context({
      blocks: [...context().blocks, { device: '/dev/sda3', disks: ['/dev/sda'], label: 'Backup Disk' }],
    });
    expect(
      resolve(
        `UUID=${ROOT_UUID} / ext4 defaults 0 1\nLABEL=Backup\\040Disk /srv/Backup\\040Disk ext4 nofail 0 2\n`,
        ctx,
      ),
    ).toEqual([['/dev/sda2', '/']]);
  });

  it('undefined for lines the Augeas lens refuses (inspect_os fails on them) or several types', () => {
    expect(parseFstab('incomplete /line\n')).toBe(undefined);
    expect(parseFstab('/dev/sda1 / ext4 defaults x 1\n')).toBe(undefined);
    expect(parseFstab('/dev/sda1 / ext4,ext3 defaults 0 1\n')).toBe(undefined);
  });

  it('accepts a file without a final newline', () => {
    expect(parseFstab('/dev/sda1 / ext4 defaults 0 1')).toEqual([
      { spec: '/dev/sda1', mountpoint: '/', vfstype: 'ext4' },
    ]);
  });
});

describe('resolveFstab', () => {
  it('resolves UUID= and LABEL= (quoted or not) and keeps swap with mountpoint none', () => {
    const text = `UUID=${ROOT_UUID} / ext4 errors=remount-ro 0 1
LABEL="boot" /boot ext4 defaults 0 2
UUID=${SWAP_UUID} none swap sw 0 0
`;
    expect(resolve(text)).toEqual([
      ['/dev/sda2', '/'],
      ['/dev/sda1', '/boot'],
      ['/dev/sda3', 'none'],
    ]);
  });

  it('matches UUIDs case-insensitively', () => {
    expect(resolve(`UUID=${ROOT_UUID.toUpperCase()} / ext4 defaults 0 1\n`)).toEqual([['/dev/sda2', '/']]);
  });

  it('drops an entry whose UUID or label no device holds', () => {
    const text = `UUID=${ROOT_UUID} / ext4 defaults 0 1
UUID=deadbeef-0000-4000-8000-000000000000 /home ext4 defaults 0 2
LABEL=nowhere /srv ext4 defaults 0 2
`;
    expect(resolve(text)).toEqual([['/dev/sda2', '/']]);
  });

  describe('cloned disks sharing UUIDs', () => {
    // /dev/sda and /dev/sdb are the same image cloned: every UUID exists twice.
    const clone = (root: string, disk: string): FstabContext =>
      context({
        root,
        rootDisks: [disk],
        devices: ['/dev/sda', '/dev/sdb'],
        blocks: [
          { device: '/dev/sda1', disks: ['/dev/sda'], uuid: BOOT_UUID },
          { device: '/dev/sda2', disks: ['/dev/sda'], uuid: ROOT_UUID },
          { device: '/dev/sdb1', disks: ['/dev/sdb'], uuid: BOOT_UUID },
          { device: '/dev/sdb2', disks: ['/dev/sdb'], uuid: ROOT_UUID },
          { device: '/dev/sdc1', disks: ['/dev/sdc'], uuid: DATA_UUID },
        ],
      });
    const text = `UUID=${ROOT_UUID} / ext4 defaults 0 1
UUID=${BOOT_UUID} /boot ext4 defaults 0 2
UUID=${DATA_UUID} /data ext4 defaults 0 2
`;

    it("resolves the second clone's UUIDs to its own disk", () => {
      expect(resolve(text, clone('/dev/sdb2', '/dev/sdb'))).toEqual([
        ['/dev/sdb2', '/'],
        ['/dev/sdb1', '/boot'],
        ['/dev/sdc1', '/data'],
      ]);
    });

    it("resolves the first clone's UUIDs to its own disk", () => {
      expect(resolve(text, clone('/dev/sda2', '/dev/sda'))).toEqual([
        ['/dev/sda2', '/'],
        ['/dev/sda1', '/boot'],
        ['/dev/sdc1', '/data'],
      ]);
    });

    it('uses another disk when only that disk holds the UUID', () => {
      const ctx = clone('/dev/sdb2', '/dev/sdb');
      const blocks = ctx.blocks.filter((b) => b.device !== '/dev/sdb1');
      expect(resolve(text, { ...ctx, blocks })).toEqual([
        ['/dev/sdb2', '/'],
        ['/dev/sda1', '/boot'],
        ['/dev/sdc1', '/data'],
      ]);
    });
  });

  it('skips pseudo filesystems, removable media and /proc /sys /dev /media mountpoints', () => {
    const text = `UUID=${ROOT_UUID} / ext4 defaults 0 1
proc /proc proc defaults 0 0
tmpfs /tmp tmpfs defaults,size=512m 0 0
sysfs /sys sysfs defaults 0 0
devpts /dev/pts devpts gid=5,mode=620 0 0
/dev/sda1 /proc/foo ext4 defaults 0 0
/dev/sda1 /sys/kernel/debug ext4 defaults 0 0
/dev/sda1 /media/usb ext4 defaults 0 0
/dev/sda1 /selinux ext4 defaults 0 0
/dev/cdrom /mnt/cdrom iso9660 ro,user,noauto 0 0
/dev/cd0 /mnt/cd cd9660 ro,noauto 0 0
/dev/fd0 /mnt/floppy auto noauto,user 0 0
/dev/floppy /mnt/floppy2 auto noauto,user 0 0
/swapfile none swap sw 0 0
server:/export /mnt/nfs nfs defaults 0 0
`;
    expect(resolve(text)).toEqual([['/dev/sda2', '/']]);
  });

  it('keeps /media itself and canonicalises mountpoints', () => {
    const text = `UUID=${ROOT_UUID} / ext4 defaults 0 1
/dev/sda1 /media ext4 defaults 0 0
LABEL=boot //boot// ext4 defaults 0 0
`;
    expect(resolve(text)).toEqual([
      ['/dev/sda2', '/'],
      ['/dev/sda1', '/media'],
      ['/dev/sda1', '/boot'],
    ]);
  });

  it('maps /dev/sda2 to itself with one device and /dev/root to the root', () => {
    expect(resolve('/dev/root / ext4 defaults 0 1\n/dev/sda1 /boot ext4 defaults 0 2\n')).toEqual([
      ['/dev/sda2', '/'],
      ['/dev/sda1', '/boot'],
    ]);
    expect(resolve('/dev/sda2 / ext4 defaults 0 1\n')).toEqual([['/dev/sda2', '/']]);
  });

  it('maps /dev/vdX, /dev/xvdX and /dev/hdX names by drive order', () => {
    const ctx = context({
      devices: ['/dev/sda', '/dev/sdb'],
      blocks: [...context().blocks, { device: '/dev/sdb1', disks: ['/dev/sdb'], uuid: DATA_UUID }],
    });
    expect(
      resolve(
        '/dev/vda2 / ext4 defaults 0 1\n/dev/vdb1 /data ext4 defaults 0 2\n/dev/xvda1 /boot ext4 defaults 0 2\n/dev/hdb1 /data2 ext4 defaults 0 2\n',
        ctx,
      ),
    ).toEqual([
      ['/dev/sda2', '/'],
      ['/dev/sdb1', '/data'],
      ['/dev/sda1', '/boot'],
      ['/dev/sdb1', '/data2'],
    ]);
  });

  it('leaves a guest name unchanged when the drive or partition does not exist', () => {
    // libguestfs returns the spec itself when the mapped device is not there.
    expect(resolve('/dev/sda2 / ext4 defaults 0 1\n/dev/vdc1 /data ext4 defaults 0 2\n')).toEqual([
      ['/dev/sda2', '/'],
      ['/dev/vdc1', '/data'],
    ]);
  });

  it('maps /dev/mapper/VG-LV to /dev/VG/LV when that LV exists', () => {
    const ctx = context({
      root: '/dev/rl/root',
      lvs: new Set(['/dev/rl/root', '/dev/rl/swap', '/dev/my-vg/lv-1']),
    });
    const text = `/dev/mapper/rl-root / xfs defaults 0 0
UUID=${BOOT_UUID} /boot xfs defaults 0 0
/dev/mapper/rl-swap none swap defaults 0 0
/dev/mapper/my--vg-lv--1 /srv ext4 defaults 0 2
`;
    expect(resolve(text, ctx)).toEqual([
      ['/dev/rl/root', '/'],
      ['/dev/sda1', '/boot'],
      ['/dev/rl/swap', 'none'],
      ['/dev/my-vg/lv-1', '/srv'],
    ]);
  });

  it('gives up (undefined) on a /dev/mapper name that is no known LV, e.g. LUKS', () => {
    const ctx = context({ root: '/dev/rl/root', lvs: new Set(['/dev/rl/root']) });
    expect(
      resolve('/dev/mapper/rl-root / xfs defaults 0 0\n/dev/mapper/luks-0a1b /home xfs defaults 0 0\n', ctx),
    ).toBe(undefined);
    expect(
      resolve('/dev/mapper/rl-root / xfs defaults 0 0\n/dev/mapper/rl-home /home xfs defaults 0 0\n', ctx),
    ).toBe(undefined);
  });

  it('gives up on btrfs', () => {
    expect(resolve(`UUID=${ROOT_UUID} / btrfs subvol=@,defaults 0 0\n`)).toBe(undefined);
    expect(
      resolve(`UUID=${ROOT_UUID} / ext4 defaults 0 1\nUUID=${BOOT_UUID} /home btrfs subvol=@home 0 0\n`),
    ).toBe(undefined);
  });

  it('gives up on by-id, md and cciss names', () => {
    for (const spec of [
      '/dev/disk/by-id/dm-uuid-LVM-abcdef',
      '/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2',
      '/dev/md0',
      '/dev/md127',
      '/dev/cciss/c0d0p1',
    ]) {
      expect(resolve(`${spec} / ext4 defaults 0 1\n`), spec).toBe(undefined);
    }
  });

  it('keeps only the root among two "/" entries', () => {
    const ctx = context({
      devices: ['/dev/sda', '/dev/sdb'],
      blocks: [...context().blocks, { device: '/dev/sdb1', disks: ['/dev/sdb'], uuid: DATA_UUID }],
    });
    const text = `/dev/sdb1 / ext4 defaults 0 1
UUID=${ROOT_UUID} / ext4 defaults 0 1
LABEL=boot /boot ext4 defaults 0 2
`;
    expect(resolve(text, ctx)).toEqual([
      ['/dev/sda2', '/'],
      ['/dev/sda1', '/boot'],
    ]);
  });

  it('an empty fstab resolves to no entries', () => {
    expect(resolve('# nothing here\n')).toEqual([]);
  });

  // What libguestfs 1.48.6 does, observed with guestfish on a scratch disk
  // (inspect-get-filesystems / inspect-get-mountpoints): found by these tests, then fixed.
  describe('libguestfs 1.48 parity', () => {
    const withPartTags = () =>
      context({
        blocks: context().blocks.map((b) =>
          b.device === '/dev/sda1'
            ? { ...b, partuuid: '944ff7b0-818e-43b1-8b1f-8f7f598c1fe6', partlabel: 'EFI' }
            : b,
        ),
      });

    it('drops PARTUUID= entries: guestfsd 1.48 resolves only UUID= and LABEL=', () => {
      const text = `UUID=${ROOT_UUID} / ext4 defaults 0 1
PARTUUID=944FF7B0-818E-43B1-8B1F-8F7F598C1FE6 /boot/efi vfat umask=0077 0 1
`;
      expect(resolve(text, withPartTags())).toEqual([['/dev/sda2', '/']]);
    });

    it('drops PARTLABEL= entries: guestfsd 1.48 resolves only UUID= and LABEL=', () => {
      const text = `UUID=${ROOT_UUID} / ext4 defaults 0 1\nPARTLABEL=EFI /boot/efi vfat umask=0077 0 1\n`;
      expect(resolve(text, withPartTags())).toEqual([['/dev/sda2', '/']]);
    });

    it('passes /dev/disk/by-uuid/… through unchanged, as libguestfs 1.48 does', () => {
      const text = `/dev/disk/by-uuid/${ROOT_UUID} / ext4 defaults 0 1\n`;
      expect(resolve(text)).toEqual([[`/dev/disk/by-uuid/${ROOT_UUID}`, '/']]);
    });

    it('leaves a whole-disk /dev/vdb unchanged: libguestfs maps only partitions (is_partition)', () => {
      const ctx = context({
        devices: ['/dev/sda', '/dev/sdb'],
        blocks: [...context().blocks, { device: '/dev/sdb', disks: ['/dev/sdb'], uuid: DATA_UUID }],
      });
      expect(
        resolve(`UUID=${ROOT_UUID} / ext4 defaults 0 1\n/dev/vdb /srv ext4 defaults 0 2\n`, ctx),
      ).toEqual([
        ['/dev/sda2', '/'],
        ['/dev/vdb', '/srv'],
      ]);
    });
  });
});

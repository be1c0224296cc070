import { describe, expect, it } from 'vitest';
import { parseQemuImgFormats } from '../../src/worker/capabilities.js';
import { advertisedFeatures, FEATURE_NAMES, imageFormats } from '../../src/worker/features.js';

// qemu-img 7.2's help line on Debian 12: block drivers of every kind, not only image formats.
const QEMU_HELP =
  'Supported formats: blkdebug blklogwrites blkverify bochs cloop compress copy-before-write copy-on-read ' +
  'dmg file ftp ftps gluster host_cdrom host_device http https iscsi iser luks nbd nfs null-aio null-co ' +
  'nvme parallels preallocate qcow qcow2 qed quorum raw rbd replication snapshot-access ssh throttle vdi ' +
  'vhdx vmdk vpc vvfat\n';

describe('capability names', () => {
  it('disk_formats lists image formats, not protocols or filters', () => {
    const formats = imageFormats(parseQemuImgFormats(QEMU_HELP));
    expect(formats).toEqual([
      'bochs',
      'cloop',
      'dmg',
      'luks',
      'parallels',
      'qcow',
      'qcow2',
      'qed',
      'raw',
      'vdi',
      'vhdx',
      'vmdk',
      'vpc',
    ]);
    for (const notAFormat of ['blkdebug', 'ftp', 'gluster', 'nbd', 'http', 'ssh', 'file', 'throttle'])
      expect(formats).not.toContain(notAFormat);
  });

  it('libguestfs groups go by the names clients of the original worker use', () => {
    const features = advertisedFeatures(
      ['lvm2', 'luks', 'hivex', 'ntfs3g', 'ntfsprogs', 'xfs', 'inotify'],
      ['qcow2', 'raw'],
    );
    expect(features).toEqual([
      'inotify',
      'libguestfs',
      'luks',
      'lvm',
      'nbd',
      'ntfs',
      'windows-registry',
      'xfs',
    ]);
    expect(FEATURE_NAMES.lvm2).toBe('lvm');
  });

  it('nbd (attach container formats as block devices) only when qemu opens qcow2', () => {
    expect(advertisedFeatures(['lvm2'], ['raw'])).toEqual(['libguestfs', 'lvm']);
    expect(advertisedFeatures([], [])).toEqual([]);
  });
});

// Disk images for the explore tests, built at test time from directory trees (mke2fs -d, no
// mounts): a Debian guest with planted files (a multi-MiB file, binary bytes, a guest symlink to
// /etc/shadow, a block device node, hundreds of files, logs) and a disk with no OS (two ext4
// partitions). Built into the caller's directory; a few seconds each.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { seededBytes } from '../fixtures/broken.js';
import { DEBIAN_FACTS, debianTree } from '../fixtures/debian.js';
import { buildRawDisk, run } from '../fixtures/disk.js';
import { GuestTree } from '../fixtures/tree.js';

export const GUEST_SHADOW = 'root:GUEST-SHADOW-MARKER:19700:0:99999:7:::\nalice:!:19700:0:99999:7:::\n';
export const BIG_BYTES = 6 * 1024 * 1024 + 12345;
export const BIG = seededBytes(0x45_78_70_6c, BIG_BYTES + 3).subarray(0, BIG_BYTES);
export const BIG_SHA256 = createHash('sha256').update(BIG).digest('hex');
export const BLOB = Buffer.concat([
  Buffer.from('\x7fELF\x02\x01\x01\0'),
  seededBytes(7, 4088).subarray(0, 4088),
]);
export const UTF8_TEXT = 'héllo wörld ✓ ünïcode\n'.repeat(300);
export const MANY = 300;
/** Lines containing `needle-` in /srv/many (one per file). */
export const NEEDLE_LINES = MANY;

export interface ExploreImages {
  os: string;
  noOs: string;
}

export async function buildExploreImages(dir: string): Promise<ExploreImages> {
  const t = debianTree(DEBIAN_FACTS);
  t.file('/etc/shadow', GUEST_SHADOW, { mode: 0o640, gid: 42 });
  t.link('/home/alice/shadow-link', '/etc/shadow');
  t.link('/home/alice/climb-link', '../../../../../../etc/shadow');
  t.link('/home/alice/etc-link', '/etc');
  t.link('/home/alice/dangling', '/no/such/file');
  t.file('/home/alice/.bashrc', 'alias ll="ls -l"\n', { uid: 1000, gid: 1000 });
  t.file('/srv/data/big.bin', BIG);
  t.file('/srv/data/blob.bin', BLOB);
  t.file('/srv/data/utf8.txt', UTF8_TEXT);
  t.file('/srv/data/empty.txt', '');
  t.file('/srv/data/evil.txt', `${'a'.repeat(60)}!\n`);
  for (let i = 0; i < MANY; i++) {
    t.file(`/srv/many/file-${String(i).padStart(4, '0')}.txt`, `header ${i}\nneedle-${i} here\nfooter\n`);
  }
  t.file('/var/log/syslog.log', 'boot ok\nkernel: started\n');
  t.file('/var/log/app/api.log', 'GET /health 200\nERROR database timeout\nGET / 200\n');
  t.file('/var/log/app/worker.log', 'job 1 done\nERROR disk full\n');
  t.file('/var/log/app/old.log.1', 'ERROR rotated\n');
  t.after(async (root) => {
    await run('mknod', [join(root, 'srv/data/disk-node'), 'b', '7', '0']);
  });
  const os = join(dir, 'explore-os.img');
  await buildRawDisk(
    os,
    {
      sizeMiB: 96,
      table: 'dos',
      labelId: '0x6a7b8c9d',
      partitions: [
        {
          sizeMiB: 94,
          bootable: true,
          fs: { kind: 'ext4', uuid: DEBIAN_FACTS.filesystems[0].uuid, label: 'root', tree: t },
        },
      ],
    },
    dir,
  );
  const noOs = join(dir, 'explore-data.img');
  await buildRawDisk(
    noOs,
    {
      sizeMiB: 24,
      table: 'dos',
      labelId: '0x1a2b3c4d',
      partitions: [
        {
          sizeMiB: 10,
          fs: {
            kind: 'ext4',
            uuid: '0d9a6c4e-1f2b-4c3d-8e5f-6a7b8c9d0e1f',
            label: 'data1',
            tree: new GuestTree().file('/readme.txt', 'first partition\n').link('/shadow', '/etc/shadow'),
          },
        },
        {
          sizeMiB: 10,
          fs: {
            kind: 'ext4',
            uuid: '1e0b7d5f-2a3c-4d4e-9f60-7b8c9d0e1f2a',
            label: 'data2',
            tree: new GuestTree().file('/notes/todo.txt', 'second partition\n'),
          },
        },
      ],
    },
    dir,
  );
  return { os, noOs };
}

// Guestfs.open() checks an image as the worker does before a launch: a missing file, a directory,
// a FIFO, a declared format that is not the real one, a backing file or corrupt metadata is a
// coded LibraryError before any appliance starts (never qemu's raw text). A drive given without a
// format is opened in the detected one. And the README's example does what it says.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guestfs, GuestfsError, LibraryError } from '../../lib/index.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { qemuChildren } from './qemu-children.js';

const dir = mkdtempSync(join(tmpdir(), 'guestkit-open-'));
const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'ignore' });
let corrupt: Fixture;
let debian: Fixture;

beforeAll(async () => {
  [corrupt, debian] = await getFixtures(['corrupt', 'debian-like']);
  mkdirSync(join(dir, 'folder'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  writeFileSync(join(dir, 'notes.txt'), 'not a disk image\n');
  qemuImg('create', '-q', '-f', 'qcow2', join(dir, 'blank.qcow2'), '1G');
  qemuImg(
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    join(dir, 'blank.qcow2'),
    '-F',
    'qcow2',
    join(dir, 'child.qcow2'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The rejection of Guestfs.open(drive): a LibraryError with its code and message. */
async function refusal(drive: Parameters<typeof Guestfs.open>[0]): Promise<LibraryError> {
  const err: unknown = await Guestfs.open(drive).then(
    async (g) => {
      await g.close();
      return new Error('opened');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LibraryError);
  return err as LibraryError;
}

describe('Guestfs.open() refuses what the worker refuses, before any launch', () => {
  it.each([
    [
      'a missing file',
      () => ({ path: join(dir, 'nope.qcow2') }),
      'IMAGE_NOT_FOUND',
      /^Image not found: .*nope\.qcow2$/,
    ],
    [
      'a directory',
      () => join(dir, 'folder'),
      'VALIDATION_ERROR',
      /folder is a directory; only regular files and block devices are read$/,
    ],
    ['a FIFO', () => join(dir, 'fifo'), 'VALIDATION_ERROR', /fifo is a FIFO; only regular files/],
    [
      'a text file declared qcow2',
      () => ({ path: join(dir, 'notes.txt'), format: 'qcow2' }),
      'UNSUPPORTED_IMAGE_FORMAT',
      /notes\.txt was declared 'qcow2' but is 'raw'; fix image\.format or omit it$/,
    ],
    [
      'a qcow2 declared raw',
      () => ({ path: join(dir, 'blank.qcow2'), format: 'raw' }),
      'UNSUPPORTED_IMAGE_FORMAT',
      /blank\.qcow2 was declared 'raw' but is 'qcow2'/,
    ],
    [
      'a qcow2 with a backing file',
      () => join(dir, 'child.qcow2'),
      'PATH_NOT_ALLOWED',
      /child\.qcow2 has a backing file \(.*blank\.qcow2\); images must be self-contained/,
    ],
    [
      'a corrupt qcow2',
      () => ({ path: corrupt.path, format: 'qcow2' }),
      'APPLIANCE_ERROR',
      /is corrupt \(qcow2\)/,
    ],
  ] as const)('%s', async (_what, drive, code, message) => {
    const err = await refusal(drive());
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/mailing list|qemu-img:/);
    expect(qemuChildren()).toEqual([]);
  });
});

describe('Guestfs.open() with real appliances', () => {
  it('opens a drive without a format in the detected one, and the README example holds', async () => {
    // One launch: the fixture (raw, given as such) and the blank qcow2 without a format. Were the
    // qcow2 attached as raw, its disk would be the file's few hundred KiB, not 1 GiB.
    const g = await Guestfs.open([{ path: debian.path, format: 'raw' }, join(dir, 'blank.qcow2')]);
    try {
      expect(await g.blockdevGetsize64('/dev/sdb')).toBe(1024n ** 3n);

      // The README's example, step by step, with the outputs it shows.
      const [os] = await g.inspect();
      const facts = debian.os!;
      expect([os.root, os.distro, os.productName]).toEqual([facts.root, 'debian', facts.productName]);
      const hostname = await g.withMountedRoot(os.root, () => g.readText('/etc/hostname'));
      expect(hostname.trim()).toBe(facts.hostname);
      const missing = await g.withMountedRoot(os.root, () => g.cat('/no/such/file')).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(GuestfsError);
      expect(missing).toMatchObject({ code: 'ENOENT', action: 'cat' });
      // Nothing mounted: libguestfs' own message, no errno.
      await expect(g.cat('/etc/hostname')).rejects.toMatchObject({ code: 'EGUESTFS' });
    } finally {
      await g.close();
    }
    expect(qemuChildren()).toEqual([]);
  });
});

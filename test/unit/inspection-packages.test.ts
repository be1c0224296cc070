// parseDpkgStatus with the quirks of libguestfs 1.48's list_applications_deb, parseRpmHeader on
// hand-built rpmdb header blobs, and readRpmSqlite on a real sqlite file in rpm's layout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDpkgStatus, parseRpmHeader, readRpmSqlite } from '../../lib/inspection/packages.js';

const EMPTY = {
  app2_display_name: '',
  app2_install_path: '',
  app2_trans_path: '',
  app2_publisher: '',
  app2_spare1: '',
  app2_spare2: '',
  app2_spare3: '',
  app2_spare4: '',
};

const STATUS = `Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Conflicts: zlib1 (<= 1:1.0.4-7)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/

Package: old-tool
Status: deinstall ok config-files
Priority: optional
Architecture: amd64
Version: 2.1-3
Conffiles:
 /etc/old-tool.conf 0123456789abcdef0123456789abcdef
Description: removed, only its configuration is left

Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u4
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Conffiles:
 /etc/debian_version 0f6d4b2ffa3d0b6a9d2b9d0b0f3f4c5d
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 .
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: beta-pkg
Status: install ok installed
Architecture: all
Version: 2.0-beta-1
Description: a version with two dashes

Package: bad-epoch
Status: install ok installed
Architecture: all
Version: x:1.0-1
Description: a non-numeric epoch

Package: no-version
Status: install ok installed
Architecture: all
Description: no Version field

Package: unterminated
Status: install ok installed
Architecture: amd64
Version: 9.9-1
Description: the last stanza, not closed by a blank line
`;

describe('parseDpkgStatus', () => {
  const apps = parseDpkgStatus(STATUS);
  const byName = (name: string) => apps.find((a) => a.app2_name === name);

  it('lists the installed packages closed by a blank line, sorted by name', () => {
    // "unterminated" has its own (failing) test below.
    const names = apps.map((a) => a.app2_name).filter((n) => n !== 'unterminated');
    expect(names).toEqual(['base-files', 'beta-pkg', 'libssl3', 'zlib1g']);
  });

  it('splits epoch, version and release and fills every field like libguestfs', () => {
    expect(byName('zlib1g')).toEqual({
      ...EMPTY,
      app2_name: 'zlib1g',
      app2_epoch: 1,
      app2_version: '1.2.13.dfsg',
      app2_release: '1',
      app2_arch: 'amd64',
      app2_url: 'http://zlib.net/',
      app2_source_package: 'zlib',
      app2_summary: 'compression library - runtime',
      app2_description:
        'zlib is a library implementing the deflate compression method found\nin gzip and PKZIP.  This package includes the shared library.',
    });
  });

  it('a version without a dash has an empty release; continuation lines keep " ." as "."', () => {
    expect(byName('base-files')).toMatchObject({
      app2_epoch: 0,
      app2_version: '12.4+deb12u4',
      app2_release: '',
      app2_url: '',
      app2_source_package: '',
      app2_summary: 'Debian base system miscellaneous files',
      app2_description:
        'This package contains the basic filesystem hierarchy of a Debian system, and\n' +
        'several important miscellaneous files, such as /etc/debian_version,\n' +
        '.\n' +
        '/etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,\n' +
        'and the text of several common licenses in use on Debian systems.',
    });
  });

  it('splits at the first dash: 2.0-beta-1 → 2.0 / beta-1', () => {
    expect(byName('beta-pkg')).toMatchObject({
      app2_version: '2.0',
      app2_release: 'beta-1',
      app2_arch: 'all',
    });
  });

  it('"Source: foo (1.0)" gives the source name alone; a one-line description is empty', () => {
    expect(byName('libssl3')).toMatchObject({
      app2_source_package: 'openssl',
      app2_version: '3.0.11',
      app2_release: '1~deb12u2',
      app2_summary: 'Secure Sockets Layer toolkit - shared libraries',
      app2_description: '',
    });
  });

  it('Conffiles continuation lines are not taken for a description', () => {
    expect(apps.every((a) => !a.app2_description.includes('/etc/debian_version 0f6d'))).toBe(true);
  });

  it('drops deinstalled packages, non-numeric epochs and stanzas without Version', () => {
    for (const name of ['old-tool', 'bad-epoch', 'no-version']) expect(byName(name), name).toBe(undefined);
  });

  it('counts any Status mentioning "installed" (libguestfs uses strstr)', () => {
    const text =
      'Package: half\nStatus: install reinstreq half-installed\nVersion: 1.0-1\n\n' +
      'Package: gone\nStatus: purge ok not-installed\nVersion: 1.0-1\n\n' +
      'Package: unpacked\nStatus: install ok unpacked\nVersion: 1.0-1\n\n';
    expect(parseDpkgStatus(text).map((a) => a.app2_name)).toEqual(['gone', 'half']);
  });

  it('fields of one stanza do not leak into the next', () => {
    const text =
      'Package: a\nStatus: install ok installed\nVersion: 1:1.0-1\nHomepage: https://a/\nSource: src-a\nArchitecture: amd64\nDescription: A\n more\n\n' +
      'Package: b\nStatus: install ok installed\nVersion: 2.0\n\n';
    const b = parseDpkgStatus(text).find((a) => a.app2_name === 'b');
    expect(b).toEqual({
      ...EMPTY,
      app2_name: 'b',
      app2_epoch: 0,
      app2_version: '2.0',
      app2_release: '',
      app2_arch: '',
      app2_url: '',
      app2_source_package: '',
      app2_summary: '',
      app2_description: '',
    });
  });

  it('drops a last stanza without a trailing blank line, like libguestfs (no final newline)', () => {
    const text =
      'Package: a\nStatus: install ok installed\nVersion: 1.0-1\n\nPackage: b\nStatus: install ok installed\nVersion: 2.0-1';
    expect(parseDpkgStatus(text).map((a) => a.app2_name)).toEqual(['a']);
  });

  // libguestfs reads the file with fgets: a final "Version: 9.9-1\n" line is not followed by an
  // empty line, so "unterminated" never reaches add_application.
  it('drops a last stanza that ends in a single newline, like libguestfs', () => {
    expect(byName('unterminated')).toBe(undefined);
  });

  it('an empty file lists nothing', () => {
    expect(parseDpkgStatus('')).toEqual([]);
  });
});

// rpm header tags and types, as rpmtag.h numbers them.
const TAG = {
  name: 1000,
  version: 1001,
  release: 1002,
  epoch: 1003,
  summary: 1004,
  description: 1005,
  size: 1009,
  url: 1020,
  arch: 1022,
};
const TYPE = { int32: 4, string: 6, bin: 7, stringArray: 8, i18nstring: 9 };

type Entry = { tag: number; type: number; value: string | number | string[] };

/** An rpmdb header blob: u32be index count, u32be data length, 16-byte entries, data store. */
function header(entries: Entry[]): Buffer {
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let length = 0;
  for (const e of entries) {
    let bytes: Buffer;
    let count = 1;
    if (e.type === TYPE.int32) {
      const pad = (4 - (length % 4)) % 4; // int32 data is 4-aligned
      if (pad) {
        data.push(Buffer.alloc(pad));
        length += pad;
      }
      bytes = Buffer.alloc(4);
      bytes.writeInt32BE(e.value as number);
    } else if (Array.isArray(e.value)) {
      count = e.value.length;
      bytes = Buffer.concat(e.value.map((s) => Buffer.from(`${s}\0`, 'utf8')));
    } else {
      bytes = Buffer.from(`${String(e.value)}\0`, 'utf8');
    }
    const entry = Buffer.alloc(16);
    entry.writeUInt32BE(e.tag, 0);
    entry.writeUInt32BE(e.type, 4);
    entry.writeUInt32BE(length, 8);
    entry.writeUInt32BE(count, 12);
    index.push(entry);
    data.push(bytes);
    length += bytes.length;
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(entries.length, 0);
  head.writeUInt32BE(length, 4);
  return Buffer.concat([head, ...index, ...data]);
}

function pkg(
  name: string,
  extra: Partial<Record<'version' | 'release' | 'url', string>> & { epoch?: number } = {},
) {
  const entries: Entry[] = [
    // A region tag first, as real headers have (HEADER_IMMUTABLE, BIN): not a wanted tag.
    { tag: 63, type: TYPE.bin, value: 'region-trailer-bytes' },
    { tag: TAG.name, type: TYPE.string, value: name },
    { tag: TAG.version, type: TYPE.string, value: extra.version ?? '1.0' },
    { tag: TAG.release, type: TYPE.string, value: extra.release ?? '1.el9' },
    { tag: TAG.summary, type: TYPE.i18nstring, value: [`The ${name} package`] },
    { tag: TAG.description, type: TYPE.i18nstring, value: [`Long description of ${name}.\nSecond line.`] },
    { tag: TAG.size, type: TYPE.int32, value: 12345 },
    { tag: TAG.arch, type: TYPE.string, value: 'x86_64' },
  ];
  if (extra.epoch !== undefined) entries.push({ tag: TAG.epoch, type: TYPE.int32, value: extra.epoch });
  if (extra.url !== undefined) entries.push({ tag: TAG.url, type: TYPE.string, value: extra.url });
  return header(entries);
}

describe('parseRpmHeader', () => {
  it('reads name, epoch, version, release, arch, url, summary and description', () => {
    expect(
      parseRpmHeader(
        pkg('openssl-libs', {
          epoch: 1,
          version: '3.0.7',
          release: '24.el9',
          url: 'http://www.openssl.org/',
        }),
      ),
    ).toEqual({
      ...EMPTY,
      app2_name: 'openssl-libs',
      app2_epoch: 1,
      app2_version: '3.0.7',
      app2_release: '24.el9',
      app2_arch: 'x86_64',
      app2_url: 'http://www.openssl.org/',
      app2_source_package: '',
      app2_summary: 'The openssl-libs package',
      app2_description: 'Long description of openssl-libs.\nSecond line.',
    });
  });

  it('an absent epoch is 0 and an absent URL is "(none)" as librpm formats it', () => {
    const app = parseRpmHeader(pkg('bash'));
    expect(app?.app2_epoch).toBe(0);
    expect(app?.app2_url).toBe('(none)');
  });

  it('absent version/release/arch/summary also read "(none)"', () => {
    const app = parseRpmHeader(header([{ tag: TAG.name, type: TYPE.string, value: 'gpg-pubkey' }]));
    expect(app).toMatchObject({
      app2_name: 'gpg-pubkey',
      app2_version: '(none)',
      app2_release: '(none)',
      app2_arch: '(none)',
      app2_summary: '(none)',
      app2_description: '(none)',
    });
  });

  it('a header without NAME is no package', () => {
    expect(parseRpmHeader(header([{ tag: TAG.version, type: TYPE.string, value: '1' }]))).toBe(undefined);
  });

  it('truncated or nonsense blobs → undefined', () => {
    const blob = pkg('bash');
    expect(parseRpmHeader(blob.subarray(0, blob.length - 1))).toBe(undefined);
    expect(parseRpmHeader(blob.subarray(0, 20))).toBe(undefined);
    expect(parseRpmHeader(blob.subarray(0, 7))).toBe(undefined);
    expect(parseRpmHeader(Buffer.alloc(0))).toBe(undefined);
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(0xffffffff, 0);
    expect(parseRpmHeader(huge)).toBe(undefined);
  });
});

describe('readRpmSqlite', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'guestkit-rpmdb-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every header of a 300-package database, sorted by name', async () => {
    const path = join(dir, 'rpmdb.sqlite');
    const db = new Database(path);
    db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
    // Inserted in reverse so the result's order comes from the sort, not from the table.
    const names = Array.from({ length: 300 }, (_, i) => `pkg-${String(i).padStart(3, '0')}`);
    db.transaction(() => {
      for (const name of [...names].reverse())
        insert.run(pkg(name, { epoch: name.endsWith('7') ? 2 : undefined }));
      insert.run(Buffer.from('not a header')); // skipped, not fatal
    })();
    db.close();

    const apps = await readRpmSqlite(path);
    expect(apps).toHaveLength(300);
    expect(apps.map((a) => a.app2_name)).toEqual(names);
    expect(apps[7]).toMatchObject({
      app2_name: 'pkg-007',
      app2_epoch: 2,
      app2_arch: 'x86_64',
      app2_url: '(none)',
    });
    expect(apps[8].app2_epoch).toBe(0);
  });

  it('rejects a missing file', async () => {
    await expect(readRpmSqlite(join(dir, 'absent.sqlite'))).rejects.toThrow();
  });
});

describe('installedApplications guards', () => {
  it('refuses a package database larger than libguestfs would copy (a hostile guest), before copying it', async () => {
    const { installedApplications } = await import('../../lib/inspection/index.js');
    const downloads: string[] = [];
    const g = {
      statns: async () => ({ st_size: 301n * 1024n * 1024n }),
      download: async (remote: string) => void downloads.push(remote),
    } as unknown as import('../../lib/guestfs.js').Guestfs;
    const facts = { package_format: 'deb' } as import('../../lib/inspection/index.js').OsFacts;
    await expect(installedApplications(g, '/dev/sda1', facts)).rejects.toMatchObject({
      name: 'GuestfsError',
      code: 'EFBIG',
      message: expect.stringContaining('/var/lib/dpkg/status is unreasonably large'),
    });
    expect(downloads).toEqual([]);
  });
});

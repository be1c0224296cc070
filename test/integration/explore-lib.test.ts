// The Explorer library on real appliances: one handle on the planted Debian image serves every
// check of listing, stat, ranges, binary detection, streamed download, find/grep bounds and guest
// symlinks; one pool lease on a disk without an OS checks the per-device layout.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppliancePool, Explorer, ExploreError, Guestfs } from '../../lib/index.js';
import {
  BIG_BYTES,
  BIG_SHA256,
  BLOB,
  buildExploreImages,
  GUEST_SHADOW,
  MANY,
  UTF8_TEXT,
  type ExploreImages,
} from '../explore/fixture.js';

let dir: string;
let images: ExploreImages;
let g: Guestfs;
let ex: Explorer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'explore-lib-'));
  images = await buildExploreImages(dir);
  g = await Guestfs.open({ path: images.os, format: 'raw' });
  ex = await Explorer.open(g);
});
afterAll(async () => {
  await ex?.close();
  await g?.close();
  await rm(dir, { recursive: true, force: true });
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof ExploreError ? e.code : `other: ${String(e)}`),
  );

describe('Explorer on an image with an OS', () => {
  it('mounts the inspected root read-only, as the guest sees it', async () => {
    expect(ex.layout).toMatchObject({ kind: 'os', root: '/dev/sda1', mounts: { '/': '/dev/sda1' } });
    await expect(g.touch('/srv/new')).rejects.toThrow(/read-only/i);
  });

  it('lists a directory sorted by name with types, sizes, modes, owners, mtimes and link targets', async () => {
    const l = await ex.ls('/home/alice');
    expect(l.entries.map((e) => e.name)).toEqual([
      '.bashrc',
      'climb-link',
      'dangling',
      'etc-link',
      'shadow-link',
    ]);
    const byName = Object.fromEntries(l.entries.map((e) => [e.name, e]));
    expect(byName['.bashrc']).toMatchObject({
      type: 'file',
      size: 17,
      mode: 0o644,
      uid: 1000,
      permissions: '-rw-r--r--',
    });
    expect(byName['shadow-link']).toMatchObject({
      type: 'symlink',
      target: '/etc/shadow',
      targetType: 'file',
    });
    expect(byName['etc-link']).toMatchObject({ target: '/etc', targetType: 'directory' });
    expect(byName['dangling']).toMatchObject({ target: '/no/such/file', targetType: 'unknown' });
    expect(Date.parse(byName['.bashrc'].mtime)).toBeGreaterThan(Date.parse('2020-01-01'));
    const root = await ex.ls('/etc', { limit: 1000 });
    expect(root.entries.find((e) => e.name === 'shadow')).toMatchObject({
      user: 'root',
      group: 'shadow',
      mode: 0o640,
    });
    const hidden = await ex.ls('/home/alice', { hideHidden: true });
    expect(hidden.entries.map((e) => e.name)).not.toContain('.bashrc');
  });

  it('pages a large directory and sorts by size', async () => {
    const first = await ex.ls('/srv/many', { offset: 0, limit: 100 });
    const third = await ex.ls('/srv/many', { offset: 200, limit: 100 });
    expect(first.total).toBe(MANY);
    expect(first.entries).toHaveLength(100);
    expect(first.entries[0].name).toBe('file-0000.txt');
    expect(third.entries[0].name).toBe('file-0200.txt');
    expect(third.entries.at(-1)!.name).toBe('file-0299.txt');
    const bySize = await ex.ls('/srv/data', { sort: 'size' });
    expect(bySize.entries[0].name).toBe('big.bin');
  });

  it('stats files, directories and symlinks; missing paths are FILE_NOT_FOUND', async () => {
    expect(await ex.stat('/srv/data/big.bin')).toMatchObject({
      type: 'file',
      size: BIG_BYTES,
      path: '/srv/data/big.bin',
    });
    expect(await ex.stat('/etc')).toMatchObject({ type: 'directory', name: 'etc' });
    expect(await ex.stat('/etc/os-release')).toMatchObject({
      type: 'symlink',
      target: '../usr/lib/os-release',
      targetType: 'file',
    });
    expect(await code(ex.stat('/no/such'))).toBe('FILE_NOT_FOUND');
    expect(await code(ex.ls('/srv/data/big.bin'))).toBe('NOT_A_DIRECTORY');
    expect(await code(ex.ls('relative/path'))).toBe('VALIDATION_ERROR');
  });

  it('reads ranges, detects binary, decodes UTF-8 cut mid-character', async () => {
    const head = await ex.read('/etc/os-release');
    expect(head.binary).toBe(false);
    expect(head.text).toContain('ID="debian"');
    const mid = await ex.read('/srv/data/big.bin', { offset: 1_000_000, length: 4096 });
    expect(mid.data.equals((await import('../explore/fixture.js')).BIG.subarray(1_000_000, 1_004_096))).toBe(
      true,
    );
    expect(mid.binary).toBe(true);
    expect(mid.text).toBeUndefined();
    const blob = await ex.read('/srv/data/blob.bin');
    expect(blob).toMatchObject({ binary: true, size: BLOB.length, eof: true });
    // 'é' is two bytes: offset 2 starts inside it, length 10 ends inside another character.
    const utf = await ex.read('/srv/data/utf8.txt', { offset: 2, length: 10 });
    expect(utf.binary).toBe(false);
    expect(Buffer.from(UTF8_TEXT).subarray(2, 12).equals(utf.data)).toBe(true);
    const tail = await ex.read('/srv/data/utf8.txt', {
      offset: Buffer.byteLength(UTF8_TEXT) - 5,
      length: 100,
    });
    expect(tail).toMatchObject({ length: 5, eof: true });
    expect(await code(ex.read('/srv/data/utf8.txt', { offset: 10_000_000 }))).toBe('RANGE_NOT_SATISFIABLE');
    expect(await code(ex.read('/srv/data/empty.txt'))).toBe('resolved');
    expect(await code(ex.read('/etc'))).toBe('IS_A_DIRECTORY');
  });

  it('refuses device nodes of the image (they would open the appliance’s own devices)', async () => {
    expect(await ex.stat('/srv/data/disk-node')).toMatchObject({ type: 'block' });
    expect(await code(ex.read('/srv/data/disk-node'))).toBe('VALIDATION_ERROR');
    expect(await code(ex.download('/srv/data/disk-node'))).toBe('VALIDATION_ERROR');
  });

  it('downloads a multi-MiB file as a stream equal to its sha256 computed inside the guest', async () => {
    const inGuest = await ex.checksum('/srv/data/big.bin');
    expect(inGuest).toBe(BIG_SHA256);
    const d = await ex.download('/srv/data/big.bin');
    expect(d).toMatchObject({ size: BIG_BYTES, start: 0, end: BIG_BYTES - 1 });
    const h = createHash('sha256');
    let chunks = 0;
    let largest = 0;
    for await (const c of d.stream as AsyncIterable<Buffer>) {
      h.update(c);
      chunks++;
      largest = Math.max(largest, c.length);
    }
    expect(h.digest('hex')).toBe(inGuest);
    expect(chunks).toBeGreaterThan(5); // streamed in chunks, never one buffer of the whole file
    expect(largest).toBeLessThanOrEqual(1024 * 1024);
    const part = await ex.download('/srv/data/big.bin', { start: 10, end: 19 });
    const bytes: Buffer[] = [];
    for await (const c of part.stream as AsyncIterable<Buffer>) bytes.push(c);
    expect(Buffer.concat(bytes).length).toBe(10);
    expect(await code(ex.download('/srv/data/big.bin', { start: BIG_BYTES + 1 }))).toBe(
      'RANGE_NOT_SATISFIABLE',
    );
  });

  it('resolves guest symlinks inside the guest: a link to /etc/shadow reads the guest’s file, never the host’s', async () => {
    const host = await readFile('/etc/shadow', 'utf8');
    for (const link of ['/home/alice/shadow-link', '/home/alice/climb-link']) {
      const r = await ex.read(link);
      expect(r.text).toBe(GUEST_SHADOW);
      expect(r.text).not.toBe(host);
    }
    const viaLink = await ex.ls('/home/alice/etc-link');
    expect(viaLink.entries.map((e) => e.name)).toContain('debian_version');
    expect(viaLink.path).toBe('/home/alice/etc-link');
    const shadow = viaLink.entries.find((e) => e.name === 'shadow')!;
    expect(shadow.size).toBe(Buffer.byteLength(GUEST_SHADOW));
    expect(await ex.checksum('/home/alice/shadow-link')).toBe(
      createHash('sha256').update(GUEST_SHADOW).digest('hex'),
    );
    expect((await ex.grep('/home/alice/shadow-link', 'MARKER')).matches).toHaveLength(1);
    expect(await ex.read('/../../etc/shadow').then((r) => r.text)).toBe(GUEST_SHADOW);
  });

  it('finds by glob, bounded', async () => {
    const logs = await ex.find('/var/log', '*.log');
    expect(logs.matches.sort()).toEqual([
      '/var/log/app/api.log',
      '/var/log/app/worker.log',
      '/var/log/syslog.log',
    ]);
    expect(logs.truncated).toBe(false);
    const nested = await ex.find('/var/log', 'app/*.log');
    expect(nested.matches.sort()).toEqual(['/var/log/app/api.log', '/var/log/app/worker.log']);
    const bounded = await ex.find('/srv/many', '*.txt', { limit: 25 });
    expect(bounded.matches).toHaveLength(25);
    expect(bounded.truncated).toBe(true);
  });

  it('greps by regex with line numbers, bounded by matches, files and bytes; binary files skipped', async () => {
    const errors = await ex.grep('/var/log', '^ERROR');
    expect(errors.matches).toEqual(
      expect.arrayContaining([
        { path: '/var/log/app/api.log', line: 2, text: 'ERROR database timeout' },
        { path: '/var/log/app/worker.log', line: 2, text: 'ERROR disk full' },
        { path: '/var/log/app/old.log.1', line: 1, text: 'ERROR rotated' },
      ]),
    );
    expect(errors.truncated).toBe(false);
    const capped = await ex.grep('/srv/many', 'needle-\\d+', { maxMatches: 40 });
    expect(capped).toMatchObject({ truncated: true, stoppedBy: 'matches' });
    expect(capped.matches).toHaveLength(40);
    expect(capped.matches[0]).toMatchObject({ line: 2 });
    expect((await ex.grep('/srv/data', 'ELF')).matches).toEqual([]);
    expect(await code(ex.grep('/srv', '(unclosed'))).toBe('VALIDATION_ERROR');
  });

  it('stops a grep at its file and byte bounds, and a catastrophic pattern at its time budget', async () => {
    const files = await Explorer.open(g, { limits: { maxGrepFiles: 10 } });
    const r = await files.grep('/srv/many', 'needle');
    expect(r).toMatchObject({ truncated: true, stoppedBy: 'files', filesSearched: 10 });
    const bytes = await Explorer.open(g, { limits: { maxGrepBytes: 200 } });
    expect(await bytes.grep('/srv/many', 'needle')).toMatchObject({ truncated: true, stoppedBy: 'bytes' });
    const slow = await Explorer.open(g, { limits: { grepTimeMs: 500 } });
    // Exponential backtracking on every long line: the worker thread is killed, the loop never blocks.
    const t = await slow.grep('/srv/data/evil.txt', '^(a+)+$');
    expect(t).toMatchObject({ truncated: true, stoppedBy: 'time' });
  });
});

describe('Explorer on a pool lease of a disk without an OS', () => {
  it('mounts each filesystem under its device name; guest symlinks stay inside', async () => {
    const pool = new AppliancePool({ maxAppliances: 1 });
    try {
      await pool.run(
        [{ path: images.noOs, format: 'raw' }],
        async (lease) => {
          const e = await Explorer.open(lease);
          expect(e.layout).toEqual({
            kind: 'filesystems',
            mounts: { '/sda1': '/dev/sda1', '/sda2': '/dev/sda2' },
          });
          const top = await e.ls('/');
          expect(top.entries.map((x) => x.name)).toEqual(expect.arrayContaining(['sda1', 'sda2']));
          expect((await e.read('/sda1/readme.txt')).text).toBe('first partition\n');
          expect((await e.read('/sda2/notes/todo.txt')).text).toBe('second partition\n');
          expect(await code(e.read('/sda1/shadow'))).toBe('FILE_NOT_FOUND');
          await e.close();
        },
        { shareable: false },
      );
    } finally {
      await pool.close();
    }
  });
});

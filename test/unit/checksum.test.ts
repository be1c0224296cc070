// Incremental hashing, checksum parsing and sha256File against sha256sum on small files: the
// standard vectors, block-boundary sizes, fs-shaped errors.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChecksumFormatError,
  createSha256,
  parseChecksum,
  sha256File,
  verifyFile,
} from '../../lib/checksum.js';

const run = promisify(execFile);

async function sha256sum(path: string): Promise<string> {
  const { stdout } = await run('sha256sum', ['-b', path]);
  return stdout.slice(0, 64);
}

const VECTORS: [string, string][] = [
  ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  [
    'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  ],
  ['a'.repeat(1_000_000), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0'],
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'guestkit-sha256-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createSha256', () => {
  it.each(VECTORS.map(([input, hex]) => [input.length, input, hex]))(
    'hashes the %i-byte standard vector',
    (_len, input, hex) => {
      expect(createSha256().update(input).digest()).toBe(hex);
    },
  );

  it('gives the same digest fed in pieces of every shape', () => {
    const data = Buffer.from('a'.repeat(1_000_000));
    const hasher = createSha256();
    for (let off = 0, step = 1; off < data.length; off += step, step = (step * 7 + 3) % 65_537) {
      const piece = data.subarray(off, off + step);
      // Alternate Buffer, a plain Uint8Array view with a byte offset, a DataView and a string.
      if (step % 4 === 0) hasher.update(piece);
      else if (step % 4 === 1) hasher.update(new Uint8Array(piece.buffer, piece.byteOffset, piece.length));
      else if (step % 4 === 2) hasher.update(new DataView(piece.buffer, piece.byteOffset, piece.length));
      else hasher.update(piece.toString('latin1'));
    }
    expect(hasher.digest()).toBe(VECTORS[3][1]);
  });

  it('hashes strings as UTF-8', () => {
    expect(createSha256().update('é').digest()).toBe(
      createSha256().update(Buffer.from('é', 'utf8')).digest(),
    );
  });

  it('refuses use after digest and wrong input types, with codes', () => {
    const hasher = createSha256();
    hasher.digest();
    expect(() => hasher.digest()).toThrow(expect.objectContaining({ code: 'HASH_FINALIZED' }));
    expect(() => hasher.update('x')).toThrow(expect.objectContaining({ code: 'HASH_FINALIZED' }));
    expect(() => createSha256().update(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('parseChecksum', () => {
  const hex = VECTORS[1][1];

  it('accepts prefixed and bare hex, any case, surrounding whitespace', () => {
    expect(parseChecksum(hex)).toBe(hex);
    expect(parseChecksum(`sha256:${hex}`)).toBe(hex);
    expect(parseChecksum(`  SHA256:${hex.toUpperCase()}\n`)).toBe(hex);
    expect(parseChecksum(`\t${hex.toUpperCase()} `)).toBe(hex);
  });

  it.each([
    [
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      "Unsupported checksum algorithm: md5. Only 'sha256' is supported.",
    ],
    [`SHA512:${hex}`, "Unsupported checksum algorithm: sha512. Only 'sha256' is supported."],
    [hex.slice(1), 'expected 64 hex digits, got 63'],
    [`sha256:${hex}0`, 'expected 64 hex digits, got 65'],
    [`${hex.slice(1)}g`, 'only hex digits'],
    [`sha256: ${hex}`, 'only hex digits'],
    ['', 'Checksum is empty'],
    ['sha256:', 'Checksum is empty'],
    [`:${hex}`, 'empty algorithm'],
  ])('rejects %j with a clear message', (input, message) => {
    let caught: unknown;
    try {
      parseChecksum(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ChecksumFormatError);
    expect(caught).toMatchObject({ code: 'VALIDATION_ERROR', name: 'ChecksumFormatError', input });
    expect((caught as Error).message).toContain(message);
  });

  it('keeps the exact protocol message for other algorithms', () => {
    expect(() => parseChecksum('md5:d41d8cd98f00b204e9800998ecf8427e')).toThrow(
      /^Unsupported checksum algorithm: md5\. Only 'sha256' is supported\.$/,
    );
  });
});

describe('sha256File on small files', () => {
  const sizes = [0, 1, 55, 56, 63, 64, 65, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1];

  it.each(sizes)('equals sha256sum for %i bytes', async (size) => {
    const file = join(dir, `size-${size}`);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    writeFileSync(file, data);
    const hex = await sha256File(file);
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(hex).toBe(await sha256sum(file));
    expect(hex).toBe(createSha256().update(data).digest());
  });

  it('hashes the standard vectors from files, with every chunk size edge', async () => {
    for (const [i, [input, hex]] of VECTORS.entries()) {
      const file = join(dir, `vector-${i}`);
      writeFileSync(file, input);
      expect(await sha256File(file)).toBe(hex);
      expect(await sha256File(pathToFileURL(file), { chunkSize: 64 * 1024 })).toBe(hex);
      expect(await sha256File(file, { chunkSize: 64 * 1024 * 1024 })).toBe(hex);
    }
  });

  it('reports a final progress with the whole size', async () => {
    const file = join(dir, 'vector-3');
    const seen: { bytes: number; total: number }[] = [];
    await sha256File(file, { onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toEqual({ bytes: 1_000_000, total: 1_000_000 });
  });

  it('verifies against a checksum in any accepted form', async () => {
    const file = join(dir, 'vector-1');
    writeFileSync(file, 'abc');
    await expect(verifyFile(file, ` SHA256:${VECTORS[1][1].toUpperCase()} `)).resolves.toEqual({
      ok: true,
      expected: VECTORS[1][1],
      actual: VECTORS[1][1],
    });
    await expect(verifyFile(file, VECTORS[0][1])).resolves.toEqual({
      ok: false,
      expected: VECTORS[0][1],
      actual: VECTORS[1][1],
    });
    await expect(verifyFile(join(dir, 'missing'), 'md5:00')).rejects.toBeInstanceOf(ChecksumFormatError);
  });
});

describe('sha256File errors', () => {
  it('rejects a missing file like fs does', async () => {
    const file = join(dir, 'does-not-exist');
    await expect(sha256File(file)).rejects.toMatchObject({
      message: `ENOENT: no such file or directory, open '${file}'`,
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
      path: file,
    });
  });

  it('rejects a directory with EISDIR', async () => {
    await expect(sha256File(dir)).rejects.toMatchObject({
      message: `EISDIR: illegal operation on a directory, read '${dir}'`,
      code: 'EISDIR',
      errno: -21,
      syscall: 'read',
      path: dir,
    });
  });

  it('rejects an unreadable file with EACCES (checked as an unprivileged user when run as root)', async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(locked, 0o755);
    const file = join(locked, 'secret');
    writeFileSync(file, 'secret');
    chmodSync(file, 0o000);
    const expected = {
      message: `EACCES: permission denied, open '${file}'`,
      code: 'EACCES',
      errno: -13,
      syscall: 'open',
      path: file,
    };
    if (process.getuid?.() !== 0) {
      await expect(sha256File(file)).rejects.toMatchObject(expected);
      return;
    }
    // Root reads 0000 files, so the check runs in a child process as `nobody` (uid 65534).
    const lib = pathToFileURL(join(import.meta.dirname, '../../lib/checksum.ts')).href;
    const script = `import { sha256File } from ${JSON.stringify(lib)};
      sha256File(${JSON.stringify(file)}).then(
        () => console.log('{}'),
        (e) => console.log(JSON.stringify({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path })));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
    });
    expect(JSON.parse(stdout)).toEqual(expected);
  });

  it('rejects bad arguments before touching the disk', async () => {
    await expect(sha256File('')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(sha256File('/etc/hostname\0/x')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(sha256File('/etc/hostname', { chunkSize: 1000 })).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
    });
    await expect(sha256File('/etc/hostname', { chunkSize: 65 * 1024 * 1024 })).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
    });
  });

  it('rejects at once when the signal is already aborted, without opening the file', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const err = await sha256File(join(dir, 'does-not-exist'), { signal: controller.signal }).catch((e) => e);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((err as Error).cause).toEqual(new Error('stop'));
  });

  it('ends with the error of a throwing progress callback', async () => {
    const boom = new Error('progress sink failed');
    await expect(
      sha256File(join(dir, 'vector-3'), {
        onProgress: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });
});

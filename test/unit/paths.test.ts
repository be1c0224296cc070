import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerError } from '../../src/protocol/errors.js';
import { resolveAllowedPath } from '../../src/worker/paths.js';

let base: string;
let root: string;
let outside: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'gk-paths-')));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'vms'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'vms', 'a.qcow2'), 'x');
  writeFileSync(join(outside, 'secret.img'), 'x');
  symlinkSync(join(outside, 'secret.img'), join(root, 'vms', 'escape.img'));
  symlinkSync(outside, join(root, 'outlink'));
  symlinkSync(join(root, 'vms', 'a.qcow2'), join(root, 'vms', 'inner-link.qcow2'));
  execFileSync('mkfifo', [join(root, 'vms', 'fifo.img')]);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(WorkerError);
    return (err as WorkerError).code;
  }
}

describe('resolveAllowedPath', () => {
  it('accepts files inside the root and returns the real path', async () => {
    expect(await resolveAllowedPath(join(root, 'vms', 'a.qcow2'), [root])).toBe(join(root, 'vms', 'a.qcow2'));
    expect(await resolveAllowedPath(join(root, 'vms', 'inner-link.qcow2'), [root])).toBe(
      join(root, 'vms', 'a.qcow2'),
    );
  });

  it('refuses symlink escapes and .. tricks with PATH_NOT_ALLOWED', async () => {
    expect(await code(resolveAllowedPath(join(root, 'vms', 'escape.img'), [root]))).toBe('PATH_NOT_ALLOWED');
    expect(await code(resolveAllowedPath(join(root, 'outlink', 'secret.img'), [root]))).toBe(
      'PATH_NOT_ALLOWED',
    );
    expect(await code(resolveAllowedPath(`${root}/vms/../../outside/secret.img`, [root]))).toBe(
      'PATH_NOT_ALLOWED',
    );
    expect(await code(resolveAllowedPath(join(outside, 'secret.img'), [root]))).toBe('PATH_NOT_ALLOWED');
    // A root given through a symlink is resolved too.
    symlinkSync(root, join(base, 'rootlink'));
    expect(await resolveAllowedPath(join(root, 'vms', 'a.qcow2'), [join(base, 'rootlink')])).toBe(
      join(root, 'vms', 'a.qcow2'),
    );
    // A sibling directory sharing the prefix is not inside.
    mkdirSync(`${root}2`);
    writeFileSync(join(`${root}2`, 'x.img'), 'x');
    expect(await code(resolveAllowedPath(join(`${root}2`, 'x.img'), [root]))).toBe('PATH_NOT_ALLOWED');
  });

  it('missing images → IMAGE_NOT_FOUND inside the roots, PATH_NOT_ALLOWED outside', async () => {
    expect(await code(resolveAllowedPath(join(root, 'vms', 'none.qcow2'), [root]))).toBe('IMAGE_NOT_FOUND');
    expect(await code(resolveAllowedPath(join(outside, 'none.qcow2'), [root]))).toBe('PATH_NOT_ALLOWED');
  });

  it('refuses directories, FIFOs and devices as images', async () => {
    expect(await code(resolveAllowedPath(join(root, 'vms'), [root]))).toBe('VALIDATION_ERROR');
    expect(await code(resolveAllowedPath(join(root, 'vms', 'fifo.img'), [root]))).toBe('VALIDATION_ERROR');
    expect(await code(resolveAllowedPath('/dev/null', ['/dev']))).toBe('VALIDATION_ERROR');
    await expect(resolveAllowedPath(join(root, 'vms', 'fifo.img'), [root])).rejects.toThrow(/is a FIFO/);
  });

  it('targets: may not exist yet, the parent decides', async () => {
    expect(await resolveAllowedPath(join(root, 'vms', 'new.qcow2'), [root], { kind: 'target' })).toBe(
      join(root, 'vms', 'new.qcow2'),
    );
    expect(
      await code(resolveAllowedPath(join(root, 'outlink', 'new.qcow2'), [root], { kind: 'target' })),
    ).toBe('PATH_NOT_ALLOWED');
    expect(await code(resolveAllowedPath(join(root, 'nodir', 'new.qcow2'), [root], { kind: 'target' }))).toBe(
      'VALIDATION_ERROR',
    );
    expect(await resolveAllowedPath(join(root, 'vms'), [root], { kind: 'dir' })).toBe(join(root, 'vms'));
    expect(await code(resolveAllowedPath('', [root]))).toBe('VALIDATION_ERROR');
  });
});

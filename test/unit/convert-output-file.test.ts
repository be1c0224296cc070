// The no-clobber publish convert and fix rely on: a target that appears while the image was being
// written is never replaced, and derived names skip taken ones.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeSibling, partialName, publishNoClobber } from '../../src/handlers/output-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gk-output-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('output files', () => {
  it('names partial files hidden, unique and next to the target', () => {
    const target = join(dir, 'disk.qcow2');
    const a = partialName(target);
    expect(dirname(a)).toBe(dir);
    expect(basename(a)).toMatch(/^\.disk\.qcow2\.partial-[0-9a-f]{12}$/);
    expect(partialName(target)).not.toBe(a);
  });

  it('publishes by moving the temporary into place', async () => {
    const target = join(dir, 'new.raw');
    const temp = partialName(target);
    await writeFile(temp, 'image');
    await publishNoClobber(temp, target, 'target.path');
    expect(await readFile(target, 'utf8')).toBe('image');
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('refuses a target that appeared meanwhile and leaves it intact', async () => {
    const target = join(dir, 'raced.raw');
    const temp = partialName(target);
    await writeFile(temp, 'mine');
    await writeFile(target, 'theirs');
    await expect(publishNoClobber(temp, target, 'target.path')).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringMatching(/already exists \(target\.path\)/),
    });
    expect(await readFile(target, 'utf8')).toBe('theirs');
  });

  it('derives the first free sibling name', async () => {
    await writeFile(join(dir, 'vm.qcow2'), '');
    await writeFile(join(dir, 'vm-1.qcow2'), '');
    expect(await freeSibling(dir, 'vm', 'qcow2')).toBe(join(dir, 'vm-2.qcow2'));
    expect(await freeSibling(dir, 'vm', 'vdi')).toBe(join(dir, 'vm.vdi'));
  });
});

// Issue #14, the image rows: files qemu opens because an image names them (qcow2 external data
// file, VMDK extents, backing files named through a symlink, json:/nbd: names, FIFOs) and the
// window between the check and qemu's open. A real worker (SQLite store) with the real qemu-img;
// the fix jobs are refused before any appliance launches, so no appliance is started here.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHandler } from '../../src/handlers/convert/index.js';
import { createFixHandler } from '../../src/handlers/fix/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { job, startTestWorker, type TestWorker } from '../unit/worker-helpers.js';

const execFileP = promisify(execFile);
const qemuImg = (...args: string[]) => execFileP('qemu-img', args, { cwd: root });

let tw: TestWorker;
let root: string;
let outside: string;
const SECRET = Buffer.from('OUTSIDE-SECRET-BYTES');

async function run(operation: string, data: unknown): Promise<ResultDocument> {
  const envelope = job(operation, data, (b) => b.timeout(120));
  await tw.worker.submit(envelope);
  await tw.worker.waitFor(envelope.job_id);
  return (await tw.worker.result(envelope.job_id)) as ResultDocument;
}

/** A 1 MiB raw file outside the roots starting with SECRET. */
async function secretRaw(name: string): Promise<string> {
  const p = join(outside, name);
  await qemuImg('create', '-q', '-f', 'raw', p, '1M');
  await writeFile(p, Buffer.concat([SECRET, Buffer.alloc(1024 * 1024 - SECRET.length)]));
  return p;
}

async function outputHasSecret(path: string): Promise<boolean> {
  const bytes = await readFile(path).catch(() => Buffer.alloc(0));
  return bytes.includes(SECRET);
}

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'gk-confine-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  tw = await startTestWorker(
    { maxConcurrent: 2, allowedRoots: [root] },
    new HandlerRegistry().register(convertHandler).register(createFixHandler()),
  );
});

afterAll(async () => {
  await tw?.cleanup();
  await rm(base, { recursive: true, force: true });
});

describe('files an image names', () => {
  it('convert refuses a qcow2 whose external data file is outside the roots (critical)', async () => {
    const secret = await secretRaw('data.raw');
    const img = join(root, 'dq.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${secret},data_file_raw=on`, img, '1M');
    await writeFile(secret, Buffer.concat([SECRET, Buffer.alloc(1024 * 1024 - SECRET.length)]));
    const target = join(root, 'dq-out.raw');
    const r = await run('guestkit.convert', {
      source: { path: img },
      target: { path: target, format: 'raw' },
    });
    expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(r.error?.message).toMatch(/external data file/);
    expect(await outputHasSecret(target)).toBe(false);
  });

  it('fix refuses it too, and the outside data file is not written (critical)', async () => {
    const secret = await secretRaw('fix-data.raw');
    const img = join(root, 'fix-dq.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${secret}`, img, '1M');
    const before = await readFile(secret);
    const r = await run('guestkit.fix', {
      image: { path: img, format: 'qcow2' },
      operations: [{ type: 'set_hostname', options: { hostname: 'pwned' } }],
    });
    expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
    expect((await readFile(secret)).equals(before)).toBe(true);
  });

  it('convert reads an in-root data file through the pinned descriptors', async () => {
    const data = join(root, 'inroot-data.raw');
    const img = join(root, 'inroot-dq.qcow2');
    await qemuImg(
      'create',
      '-q',
      '-f',
      'qcow2',
      '-o',
      `data_file=inroot-data.raw,data_file_raw=on`,
      img,
      '1M',
    );
    await writeFile(data, Buffer.concat([Buffer.from('IN-ROOT'), Buffer.alloc(1024 * 1024 - 7)]));
    const target = join(root, 'inroot-dq-out.raw');
    const r = await run('guestkit.convert', {
      source: { path: img },
      target: { path: target, format: 'raw' },
    });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect((await readFile(target)).subarray(0, 7).toString()).toBe('IN-ROOT');
  });

  it('convert refuses a VMDK descriptor whose FLAT extent is outside (critical)', async () => {
    const secret = await secretRaw('flat.raw');
    const desc = join(root, 'evil.vmdk');
    await writeFile(desc, vmdkDescriptor(`"${secret}"`));
    const target = join(root, 'evil-out.raw');
    const r = await run('guestkit.convert', {
      source: { path: desc },
      target: { path: target, format: 'raw' },
    });
    expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(await outputHasSecret(target)).toBe(false);
  });

  it('an in-root multi-file VMDK (monolithicFlat) still converts', async () => {
    const desc = join(root, 'flat.vmdk');
    await qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', desc, '1M');
    await writeFile(
      join(root, 'flat-flat.vmdk'),
      Buffer.concat([Buffer.from('FLATDATA'), Buffer.alloc(1024 * 1024 - 8)]),
    );
    const target = join(root, 'flat-out.raw');
    const r = await run('guestkit.convert', {
      source: { path: desc },
      target: { path: target, format: 'raw' },
    });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect((await readFile(target)).subarray(0, 8).toString()).toBe('FLATDATA');
  });

  it('follows symlinks before `..` as qemu does: lnk/../x through an outside folder is refused (high)', async () => {
    // outside/sub/x.raw is the secret; root/x.raw an innocent decoy; root/lnk -> outside/sub.
    await mkdir(join(outside, 'sub'));
    await secretRaw(join('sub', 'x.raw'));
    await qemuImg('create', '-q', '-f', 'raw', join(root, 'x.raw'), '1M');
    await symlink(join(outside, 'sub'), join(root, 'lnk'));
    const top = join(root, 'sym-top.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'lnk/../x.raw', '-F', 'raw', top, '1M');
    const t1 = join(root, 'sym-out.raw');
    const r1 = await run('guestkit.convert', { source: { path: top }, target: { path: t1, format: 'raw' } });
    expect(r1.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(await outputHasSecret(t1)).toBe(false);
    // The same trick as a VMDK extent name.
    const desc = join(root, 'sym.vmdk');
    await writeFile(desc, vmdkDescriptor('"lnk/../x.raw"'));
    const t2 = join(root, 'sym-vmdk-out.raw');
    const r2 = await run('guestkit.convert', { source: { path: desc }, target: { path: t2, format: 'raw' } });
    expect(r2.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(await outputHasSecret(t2)).toBe(false);
  });

  it('refuses json: and nbd: backing names without connecting anywhere (medium, low-med)', async () => {
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      for (const [name, backing] of [
        ['nbd', `nbd://127.0.0.1:${port}/x`],
        [
          'json',
          `json:{"driver":"raw","file":{"driver":"file","filename":"${join(outside, 'sub', 'x.raw')}"}}`,
        ],
      ] as const) {
        const top = join(root, `proto-${name}.qcow2`);
        await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', 'raw', top, '1M');
        const target = join(root, `proto-${name}-out.raw`);
        const r = await run('guestkit.convert', {
          source: { path: top },
          target: { path: target, format: 'raw' },
        });
        expect(r.error?.code, name).toBe('PATH_NOT_ALLOWED');
        expect(r.error?.message).toMatch(/protocol or a json: pseudo-file/);
      }
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it('a FIFO as backing file is refused at once, not waited on (low)', async () => {
    await execFileP('mkfifo', [join(root, 'fifo.raw')]);
    const top = join(root, 'fifo-top.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'fifo.raw', '-F', 'raw', top, '1M');
    const r = await run('guestkit.convert', {
      source: { path: top },
      target: { path: join(root, 'fifo-out.raw'), format: 'raw' },
    });
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(r.error?.message).toMatch(/FIFO/);
  });

  it('a missing and an existing outside backing file give the same answer (low)', async () => {
    const answers: string[] = [];
    for (const name of ['exists.raw', 'missing.raw']) {
      if (name === 'exists.raw') await secretRaw(name);
      const top = join(root, `oracle-${name}.qcow2`);
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', join(outside, name), '-F', 'raw', top, '1M');
      const r = await run('guestkit.convert', {
        source: { path: top },
        target: { path: join(root, `oracle-${name}-out.raw`), format: 'raw' },
      });
      answers.push(`${r.error?.code} ${r.error?.message.replaceAll(name, 'NAME')}`);
    }
    expect(answers[0]).toMatch(/^PATH_NOT_ALLOWED/);
    expect(answers[1]).toBe(answers[0]);
  });
});

describe('the window between check and open', () => {
  it('a source renamed to an outside-backed image after the check is not what qemu reads (high)', async () => {
    const secret = await secretRaw('race.raw');
    const img = join(root, 'race.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', img, '1M');
    const evil = join(root, '.evil.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', secret, '-F', 'raw', evil, '1M');
    // A qemu-img that swaps the image for the evil one just before converting: the widest
    // possible window between the worker's check and qemu's open.
    const wrapper = join(base, 'qemu-img-swap');
    await writeFile(
      wrapper,
      `#!/bin/sh\nif [ "$1" = convert ] && [ -e '${evil}' ]; then mv '${evil}' '${img}'; fi\nexec qemu-img "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    const target = join(root, 'race-out.raw');
    process.env.GUESTKIT_QEMU_IMG = wrapper;
    try {
      const r = await run('guestkit.convert', {
        source: { path: img },
        target: { path: target, format: 'raw' },
      });
      // Either the checked image was converted, or the change was noticed; never the secret.
      expect(await outputHasSecret(target)).toBe(false);
      expect(
        r.status === 'completed' || r.error?.message.includes('IMAGE_CHANGED'),
        JSON.stringify(r.error),
      ).toBe(true);
    } finally {
      delete process.env.GUESTKIT_QEMU_IMG;
    }
    await rename(img, `${img}.swapped`); // the swap did happen
  });
});

function vmdkDescriptor(extent: string): string {
  return [
    '# Disk DescriptorFile',
    'version=1',
    'CID=12345678',
    'parentCID=ffffffff',
    'createType="monolithicFlat"',
    '',
    `RW 2048 FLAT ${extent} 0`,
    '',
    'ddb.virtualHWVersion = "4"',
    'ddb.geometry.cylinders = "2"',
    'ddb.geometry.heads = "16"',
    'ddb.geometry.sectors = "63"',
    'ddb.adapterType = "ide"',
    '',
  ].join('\n');
}

// Issue #14's attacks as one reproducible script, the way an attacker tries them: the compiled
// daemon with an API token and --allowed-roots, the REST API, the real qemu-img. Every attack must
// be refused with a coded error, leave nothing outside the roots and leave the daemon serving.
// No appliance launches: every attack is refused before one (the one that needs an appliance, an
// output folder swapped mid-fix, is in test/integration/confinement-outputs.test.ts).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, statfs, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoJob, JobBuilder } from '../../src/protocol/builder.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { buildDist, cleanupDist, startDaemon, type Daemon } from '../integration/api-helpers.js';

const execFileP = promisify(execFile);
const TOKEN = 'attack-suite-token-0123456789';
const SECRET = Buffer.from('OUTSIDE-SECRET-BYTES');
const auth = { authorization: `Bearer ${TOKEN}` };

let daemon: Daemon;
let base: string;
let root: string;
let outside: string;
let nbd: Server;
let nbdConnections = 0;

const qemuImg = (...args: string[]) => execFileP('qemu-img', args, { cwd: root });

async function post(
  body: string,
  type = 'application/json',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${daemon.url}/api/v1/jobs`, {
    method: 'POST',
    body,
    headers: { ...auth, 'content-type': type },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Submits a job through the API and returns its result document once terminal. */
async function run(operation: string, data: unknown): Promise<ResultDocument> {
  const envelope = new JobBuilder(operation).payload(`${operation}.v1`, data).timeout(120).build();
  const r = await post(JSON.stringify(envelope));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  for (;;) {
    const res = await fetch(`${daemon.url}/api/v1/jobs/${envelope.job_id}/result`, { headers: auth });
    if (res.status === 200) return ((await res.json()) as { data: ResultDocument }).data;
    expect(res.status).toBe(409); // not ready yet
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function secretRaw(name: string): Promise<string> {
  const p = join(outside, name);
  await writeFile(p, Buffer.concat([SECRET, Buffer.alloc(1024 * 1024 - SECRET.length)]));
  return p;
}

const hasSecret = async (path: string) =>
  (await readFile(path).catch(() => Buffer.alloc(0))).includes(SECRET);

beforeAll(async () => {
  buildDist();
  base = await mkdtemp(join(tmpdir(), 'gk-attacks-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  nbd = createServer((s) => {
    nbdConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => nbd.listen(0, '127.0.0.1', r));
  daemon = await startDaemon(['--allowed-roots', root, '--metrics-require-token', '--max-concurrent', '2'], {
    GUESTKIT_API_TOKEN: TOKEN,
    // Room for the free-space attack's virtual size, whatever this disk holds.
    GUESTKIT_MAX_DISK_SIZE_GB: String(1024 * 1024),
  });
}, 300_000);

afterAll(async () => {
  const code = await daemon?.stop();
  expect(code).toBe(0);
  nbd?.close();
  cleanupDist();
  await rm(base, { recursive: true, force: true });
});

describe('files an image names (critical/high/medium)', () => {
  it('qcow2 external data file outside: convert and fix refused, the outside file neither read nor written', async () => {
    const secret = await secretRaw('data.raw');
    const img = join(root, 'dq.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${secret},data_file_raw=on`, img, '1M');
    await secretRaw('data.raw');
    const before = await readFile(secret);
    const convert = await run('guestkit.convert', {
      source: { path: img },
      target: { path: join(root, 'dq.raw'), format: 'raw' },
    });
    expect(convert.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(await hasSecret(join(root, 'dq.raw'))).toBe(false);
    const fix = await run('guestkit.fix', {
      image: { path: img, format: 'qcow2' },
      operations: [{ type: 'set_hostname', options: { hostname: 'pwned' } }],
    });
    expect(fix.error?.code).toBe('PATH_NOT_ALLOWED');
    expect((await readFile(secret)).equals(before)).toBe(true);
  });

  it('VMDK FLAT extent outside: refused', async () => {
    const secret = await secretRaw('flat.raw');
    const desc = join(root, 'evil.vmdk');
    await writeFile(
      desc,
      `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "${secret}" 0\n`,
    );
    const r = await run('guestkit.convert', {
      source: { path: desc },
      target: { path: join(root, 'evil.raw'), format: 'raw' },
    });
    expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(await hasSecret(join(root, 'evil.raw'))).toBe(false);
  });

  it('backing file `lnk/../x` with lnk → outside folder and an in-root decoy x: judged as qemu opens it', async () => {
    await secretRaw('x');
    await writeFile(join(root, 'x'), Buffer.alloc(1024 * 1024));
    await mkdir(join(outside, 'sub'), { recursive: true });
    await symlink(join(outside, 'sub'), join(root, 'lnk'));
    await qemuImg(
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'raw',
      '-b',
      'lnk/../x',
      '-u',
      join(root, 'top.qcow2'),
      '1M',
    );
    const r = await run('guestkit.convert', {
      source: { path: join(root, 'top.qcow2') },
      target: { path: join(root, 'top.raw'), format: 'raw' },
    });
    expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(await hasSecret(join(root, 'top.raw'))).toBe(false);
  });

  it('nbd:// and json: backing names: refused, and nothing connects (SSRF)', async () => {
    const { port } = nbd.address() as { port: number };
    for (const [name, backing] of [
      ['nbd', `nbd://127.0.0.1:${port}/x`],
      ['json', `json:{"driver":"raw","file":{"driver":"file","filename":"${join(outside, 'x')}"}}`],
    ]) {
      const img = join(root, `${name}.qcow2`);
      await qemuImg('create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', backing, '-u', img, '1M');
      const r = await run('guestkit.convert', {
        source: { path: img },
        target: { path: join(root, `${name}.raw`), format: 'raw' },
      });
      expect(r.error?.code, name).toBe('PATH_NOT_ALLOWED');
    }
    expect(nbdConnections).toBe(0);
  });

  it('a FIFO backing file is refused up front, not waited on until the timeout', async () => {
    await execFileP('mkfifo', [join(root, 'fifo')]);
    const img = join(root, 'fifo.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', 'fifo', '-u', img, '1M');
    const r = await run('guestkit.convert', {
      source: { path: img },
      target: { path: join(root, 'fifo.raw'), format: 'raw' },
    });
    expect(r.status).toBe('failed');
    expect(['PATH_NOT_ALLOWED', 'VALIDATION_ERROR']).toContain(r.error?.code);
  });
});

describe('outputs (high/low)', () => {
  it("never into the daemon's state or results folders, never over an existing file", async () => {
    const img = join(root, 'blank.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', img, '1M');
    // The daemon's own folders, reached through a root by a symlink (the roots judge where it really
    // is; with a root over them, the worker-folder rule does: confinement-outputs.test.ts).
    await symlink(daemon.dir, join(root, 'daemon'));
    for (const destination of [
      join(root, 'daemon', 'state', 'worker.db'),
      join(root, 'daemon', 'results', 'forged-result.json'),
    ]) {
      const r = await run('guestkit.inspect', { image: { path: img }, output: { destination } });
      expect(r.status, destination).toBe('failed');
      expect(['PATH_NOT_ALLOWED', 'VALIDATION_ERROR']).toContain(r.error?.code);
    }
    const precious = join(root, 'precious.json');
    await writeFile(precious, 'PRECIOUS');
    const r = await run('guestkit.inspect', { image: { path: img }, output: { destination: precious } });
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(await readFile(precious, 'utf8')).toBe('PRECIOUS');
    // The store survived: the daemon still answers.
    expect((await fetch(`${daemon.url}/health`)).status).toBe(200);
  });

  it('a convert whose worst case passes the free space is refused before writing (medium)', async () => {
    const fs = await statfs(root);
    const gib = Math.ceil((fs.bavail * fs.bsize) / 1024 ** 3) + 16;
    const img = join(root, 'huge.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', img, `${gib}G`);
    const r = await run('guestkit.convert', {
      source: { path: img },
      target: { path: join(root, 'huge.raw'), format: 'raw' },
      options: { preserve_sparse: false },
    });
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(r.error?.message).toMatch(/Not enough free space/);
    expect((await readdir(root)).filter((f) => f.includes('huge.raw'))).toEqual([]);
  });
});

describe('bounded input and the API surface (medium/low)', () => {
  it('YAML alias amplification, timeout_seconds 1e20 and a bad cursor are 400s; /metrics wants the token', async () => {
    const job = echoJob({});
    const yaml = [
      'version: "1.0"',
      `job_id: ${job.job_id}`,
      `created_at: "${job.created_at}"`,
      'kind: VMOperation',
      'operation: system.echo',
      'payload:',
      '  type: system.echo.v1',
      '  data:',
      `    big: &a ${'x'.repeat(1024 * 1024 - 4096)}`,
      '    copies:',
      ...Array.from({ length: 99 }, () => '      - *a'),
    ].join('\n');
    const bomb = await post(yaml, 'application/yaml');
    expect(bomb.status).toBe(400);
    expect(bomb.body.message).toMatch(/once expanded/);
    const huge = await post(JSON.stringify({ ...echoJob({}), execution: { timeout_seconds: 1e20 } }));
    expect(huge.status).toBe(400);
    expect(huge.body.message).toMatch(/timeout_seconds - must be at most/);
    const cursor = await fetch(`${daemon.url}/api/v1/jobs?cursor=eDEyMw`, { headers: auth });
    expect(cursor.status).toBe(400);
    expect((await fetch(`${daemon.metricsUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${daemon.metricsUrl}/metrics`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${daemon.url}/health`)).status).toBe(200);
  });
});

// Clients of the original guestkit worker keep working: its published example job files
// (test/fixtures/original-jobs, kept as published) dropped into the jobs directory of a worker
// with the default handlers and the real capability probe complete. Only environment paths are
// rewritten: image paths point at fixtures, output destinations into this test's directory, and
// inspect-full's checksum (the SHA-256 of an empty file) becomes the fixture's own.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedAppliancePool } from '../../lib/appliance/index.js';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { FileTransport } from '../../src/transports/file/index.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';
import { defaultCacheDir, getFixtures, type Fixture } from '../fixtures/index.js';
import { qemuChildren } from './qemu-children.js';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/original-jobs');
/** Example file → the fixture its image path points at (same container format as declared). */
const IMAGES: Record<string, string> = {
  'guestkit-inspect-basic.json': 'rhel-like',
  'guestkit-inspect-full.json': 'rhel-like',
  'guestkit-profile-security.json': 'rhel-like',
  'guestkit-doctor-basic.json': 'vmware-rocky',
  'guestkit-repair-basic.json': 'vmware-rocky',
  'guestkit-migrate-plan-basic.json': 'debian-like-vmdk',
};

let dir: string;
let jobsDir: string;
let resultsDir: string;
let worker: LocalWorker;
let transport: FileTransport;
const fx: Record<string, Fixture> = {};
const docs: Record<string, { job_id: string; payload: { data: Record<string, unknown> } }> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

beforeAll(async () => {
  for (const f of await getFixtures([...new Set(Object.values(IMAGES))])) fx[f.name] = f;
  dir = mkdtempSync(join(tmpdir(), 'gk-original-jobs-'));
  jobsDir = join(dir, 'jobs');
  resultsDir = join(dir, 'results');
  mkdirSync(jobsDir, { recursive: true });
  const config = resolveConfig(
    {
      stateDir: join(dir, 'state'),
      jobsDir,
      resultsDir,
      workDir: dir,
      allowedRoots: [dir, defaultCacheDir()],
      maxConcurrent: 4,
      privileged: true,
    },
    {},
  );
  worker = createWorker(config, { healthChecks: { libguestfs: async () => ({ status: 'ok' }) } });
  transport = new FileTransport({ worker, jobsDir, resultsDir, logger: silentLogger(), stabilityMs: 150 });
  await worker.start();
  await transport.start();
  for (const name of readdirSync(EXAMPLES).filter((n) => n.endsWith('.json'))) {
    const doc = JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8')) as (typeof docs)[string];
    const data = doc.payload.data;
    const image = data.image as Record<string, unknown> | undefined;
    if (image) {
      const f = fx[IMAGES[name]];
      image.path = f.path;
      if (image.checksum) image.checksum = `sha256:${sha(f.path)}`;
    }
    const output = data.output as Record<string, unknown> | undefined;
    if (output?.destination) output.destination = join(dir, String(output.destination).split('/').at(-1)!);
    docs[name] = doc;
    writeFileSync(join(jobsDir, `.${name}`), JSON.stringify(doc));
    // write-then-rename, as the README says clients should
    renameSync(join(jobsDir, `.${name}`), join(jobsDir, name));
  }
  const end = Date.now() + 1_500_000;
  while (
    Object.keys(docs).some(
      (n) => !existsSync(join(jobsDir, 'done', n)) && !existsSync(join(jobsDir, 'failed', n)),
    )
  ) {
    if (Date.now() > end) throw new Error('example jobs did not finish');
    await sleep(250);
  }
}, 1_800_000);

afterAll(async () => {
  await transport?.stop();
  await worker?.stop({ drainTimeoutMs: 0 });
  await closeSharedAppliancePool();
  rmSync(dir, { recursive: true, force: true });
  expect(qemuChildren()).toEqual([]);
});

const result = (name: string): ResultDocument =>
  JSON.parse(readFileSync(join(resultsDir, `${docs[name].job_id}-result.json`), 'utf8')) as ResultDocument;

describe("the original worker's example jobs, dropped into the jobs directory", () => {
  it('every one completes and its file moves to done/', () => {
    for (const name of Object.keys(docs)) {
      const r = result(name);
      expect(r.status, `${name}: ${JSON.stringify(r.error)}`).toBe('completed');
      expect(existsSync(join(jobsDir, 'done', name)), name).toBe(true);
    }
    expect(Object.keys(docs).sort()).toEqual([
      'echo-test.json',
      'guestkit-doctor-basic.json',
      'guestkit-inspect-basic.json',
      'guestkit-inspect-full.json',
      'guestkit-migrate-plan-basic.json',
      'guestkit-profile-security.json',
      'guestkit-repair-basic.json',
    ]);
  });

  it('inspect-full passed its constraints: lvm and nbd are advertised, as probed', async () => {
    const caps = await worker.capabilities();
    expect(caps.capabilities.features).toEqual(
      expect.arrayContaining(['lvm', 'nbd', 'luks', 'selinux', 'windows-registry']),
    );
    expect(caps.capabilities.disk_formats).not.toContain('gluster');
    const full = result('guestkit-inspect-full.json').data as {
      output_file: string;
      report: { operating_system: { distribution: string } };
    };
    expect(full.report.operating_system.distribution).toBe('rocky');
    expect(existsSync(full.output_file)).toBe(true);
  });

  it('doctor, migrate-plan and repair answer in the shapes the examples ask for', () => {
    const doctor = result('guestkit-doctor-basic.json').data as {
      target: string;
      score: number;
      root_cause?: unknown;
    };
    expect(doctor.target).toBe('kubevirt');
    expect(doctor.score).toBeLessThan(80);
    expect(doctor.root_cause).toBeDefined(); // explain: true
    const plan = result('guestkit-migrate-plan-basic.json').data as { export_path: string; steps: unknown[] };
    expect(plan.export_path.startsWith(resultsDir)).toBe(true);
    expect(existsSync(plan.export_path)).toBe(true);
    const repair = result('guestkit-repair-basic.json').data as { dry_run: boolean; applied: boolean };
    expect(repair).toMatchObject({ dry_run: true, applied: false });
    expect(result('echo-test.json').data).toMatchObject({ message: 'Echo handler executed successfully' });
  });
});

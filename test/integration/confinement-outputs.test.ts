// Issue #14, the output rows: an output's folder swapped for a symlink between the check at the
// start of a job and the write at its end; outputs that would clobber an existing file; outputs in
// the worker's own state/jobs/results folders. A real worker (SQLite store), real qemu-img and ONE
// real appliance launch (the fix job whose folder is swapped mid-job); the other jobs are refused
// before any launch.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHandler } from '../../src/handlers/convert/index.js';
import { createFixHandler, defaultFixOperations, type FixOperation } from '../../src/handlers/fix/index.js';
import { inspectHandler } from '../../src/handlers/inspect/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { job, startTestWorker, type TestWorker } from '../unit/worker-helpers.js';

const execFileP = promisify(execFile);

let tw: TestWorker;
let base: string;
let root: string;
let outside: string;
let debian: Fixture;

/**
 * Test-only fix operation standing in for the attacker: while the job runs (after its targets were
 * checked, before they are written), the folder `<root>/out` becomes a symlink to the outside.
 */
const swapOutFolder: FixOperation<Record<string, never>> = {
  type: 'test_swap_out_folder',
  description: 'replaces <root>/out by a symlink to a folder outside the roots',
  needs: 'unmounted',
  validateOptions: () => ({}),
  async run() {
    await rename(join(root, 'out'), join(root, 'out.orig'));
    await symlink(outside, join(root, 'out'));
    return { status: 'success', message: 'folder swapped', changed: false };
  },
};

async function run(operation: string, data: unknown): Promise<ResultDocument> {
  const envelope = job(operation, data, (b) => b.timeout(300));
  await tw.worker.submit(envelope);
  await tw.worker.waitFor(envelope.job_id);
  return (await tw.worker.result(envelope.job_id)) as ResultDocument;
}

beforeAll(async () => {
  [debian] = await getFixtures(['debian-like']);
  base = await mkdtemp(join(tmpdir(), 'gk-confine-out-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  // The worker's own folders inside the allowed root: they must be refused by rule, not by roots.
  tw = await startTestWorker(
    {
      maxConcurrent: 1,
      allowedRoots: [root],
      stateDir: join(root, 'state'),
      jobsDir: join(root, 'jobs'),
      resultsDir: join(root, 'results'),
    },
    new HandlerRegistry()
      .register(convertHandler)
      .register(inspectHandler)
      .register(createFixHandler({ operations: defaultFixOperations.clone().register(swapOutFolder) })),
  );
});

afterAll(async () => {
  await tw?.cleanup();
  await rm(base, { recursive: true, force: true });
});

describe('outputs', () => {
  it('fix: fixed_image and log_path whose folder turns into a symlink mid-job are not written outside (high)', async () => {
    const image = join(root, 'debian.img');
    await execFileP('cp', ['--sparse=always', debian.path, image]);
    await mkdir(join(root, 'out'));
    const r = await run('guestkit.fix', {
      image: { path: image, format: 'raw', read_only: true },
      operations: [{ type: 'test_swap_out_folder' }],
      output: { fixed_image: join(root, 'out', 'fixed.img'), log_path: join(root, 'out', 'fix.json') },
    });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('PATH_NOT_ALLOWED');
    expect(r.error?.message).toMatch(/outside the allowed roots/);
    // Nothing reached the outside folder: no image, no report, no temporary.
    expect(await readdir(outside)).toEqual([]);
  });

  it('output.destination and log_path never clobber an existing file (low)', async () => {
    const existing = join(root, 'precious.json');
    await writeFile(existing, 'PRECIOUS');
    const image = join(root, 'tiny.qcow2');
    await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', image, '1M']);
    const inspect = await run('guestkit.inspect', {
      image: { path: image },
      output: { format: 'json', destination: existing },
    });
    expect(inspect.error?.code).toBe('VALIDATION_ERROR');
    expect(inspect.error?.message).toMatch(/already exists.*never overwritten/);
    const fix = await run('guestkit.fix', {
      image: { path: image, read_only: true },
      operations: [{ type: 'fsck' }],
      output: { fixed_image: join(root, 'fixed-new.qcow2'), log_path: existing },
    });
    expect(fix.error?.code).toBe('VALIDATION_ERROR');
    expect(fix.error?.message).toMatch(/already exists.*log_path/);
    // A dangling symlink at the name counts as existing too (writing through it creates its target).
    const dangling = join(root, 'dangling.json');
    await symlink(join(outside, 'created-through-link.json'), dangling);
    const viaLink = await run('guestkit.inspect', {
      image: { path: image },
      output: { format: 'json', destination: dangling },
    });
    expect(viaLink.status).toBe('failed');
    expect(await readFile(existing, 'utf8')).toBe('PRECIOUS');
    expect(await readdir(outside)).toEqual([]);
  });

  it("the worker's state, jobs and results folders are never valid outputs, even inside an allowed root (high)", async () => {
    const image = join(root, 'tiny2.qcow2');
    await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', image, '1M']);
    for (const [folder, name] of [
      ['state', 'worker.db-new'],
      ['results', 'forged.json'],
      ['jobs', 'injected.json'],
    ] as const) {
      await mkdir(join(root, folder), { recursive: true });
      const inspect = await run('guestkit.inspect', {
        image: { path: image },
        output: { format: 'json', destination: join(root, folder, name) },
      });
      expect(inspect.error?.code, folder).toBe('PATH_NOT_ALLOWED');
      expect(inspect.error?.message).toMatch(new RegExp(`worker's ${folder} folder`));
      const convert = await run('guestkit.convert', {
        source: { path: image },
        target: { path: join(root, folder, `${name}.raw`), format: 'raw' },
      });
      expect(convert.error?.code, folder).toBe('PATH_NOT_ALLOWED');
    }
  });
});

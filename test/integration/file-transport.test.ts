// The file transport against a real directory, a real chokidar watcher and a real SQLite store.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { JobBuilder } from '../../src/protocol/builder.js';
import type { JobEnvelope, ResultDocument } from '../../src/protocol/schema.js';
import { FileTransport } from '../../src/transports/file/index.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

let dir: string;
let jobsDir: string;
let resultsDir: string;
let worker: LocalWorker;
let transport: FileTransport;
const fetches: string[] = [];
const errors: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

function echoJob(data: unknown = {}, patch: (b: JobBuilder) => JobBuilder = (b) => b): JobEnvelope {
  return patch(new JobBuilder('system.echo').payload('system.echo.v1', data)).build();
}

const resultPath = (id: string) => join(resultsDir, `${id}-result.json`);
const readResult = (id: string) => JSON.parse(readFileSync(resultPath(id), 'utf8')) as ResultDocument;
const done = (name: string) => existsSync(join(jobsDir, 'done', name));
const failed = (name: string) => existsSync(join(jobsDir, 'failed', name));

// Files present before the worker starts.
const early = echoJob({ early: true });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gk-file-'));
  jobsDir = join(dir, 'jobs');
  resultsDir = join(dir, 'results');
  mkdirSync(jobsDir, { recursive: true });
  writeFileSync(join(jobsDir, 'early.json'), JSON.stringify(early));
  writeFileSync(join(jobsDir, 'early-bad.json'), '{ not json');
  const config = resolveConfig(
    { stateDir: join(dir, 'state'), jobsDir, resultsDir, workDir: dir, maxConcurrent: 4 },
    {},
  );
  worker = createWorker(config, { healthChecks: { libguestfs: async () => ({ status: 'ok' }) } });
  worker.on('transport:fetch', (e) => fetches.push(e.transport));
  worker.on('transport:error', (e) => errors.push(e.error ?? ''));
  transport = new FileTransport({ worker, jobsDir, resultsDir, logger: silentLogger(), stabilityMs: 150 });
  await worker.start();
  await transport.start();
});

afterAll(async () => {
  await transport.stop();
  await worker.stop({ drainTimeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

describe('file transport', () => {
  it('picks up files that were there before start (and rejects the bad one)', async () => {
    await until(() => done('early.json') && failed('early-bad.json'));
    expect(readResult(early.job_id)).toMatchObject({ job_id: early.job_id, status: 'completed' });
    const reason = readFileSync(join(jobsDir, 'failed', 'early-bad.json.reason.txt'), 'utf8');
    expect(reason).toMatch(/^VALIDATION_ERROR: Malformed JSON/);
  });

  it('created files: result written, file moved to done/ under its name', async () => {
    const j = echoJob({ n: 1 });
    writeFileSync(join(jobsDir, 'created.json'), JSON.stringify(j));
    await until(() => done('created.json'));
    expect(existsSync(join(jobsDir, 'created.json'))).toBe(false);
    const r = readResult(j.job_id);
    expect(r.status).toBe('completed');
    expect(r.data).toEqual({ echo: { n: 1 }, message: 'Echo handler executed successfully' });
    expect(fetches.length).toBeGreaterThan(0);
  });

  it('moved-in files and the write-then-rename pattern (dotfile / .tmp ignored until renamed)', async () => {
    const a = echoJob({ moved: true });
    const outside = join(dir, 'outside.json');
    writeFileSync(outside, JSON.stringify(a));
    renameSync(outside, join(jobsDir, 'moved.json'));

    const b = echoJob({ renamed: true });
    writeFileSync(join(jobsDir, '.hidden.json'), JSON.stringify(b));
    writeFileSync(join(jobsDir, 'partial.json.tmp'), JSON.stringify(b).slice(0, 10));
    await sleep(400);
    expect(existsSync(join(jobsDir, '.hidden.json'))).toBe(true);
    expect(existsSync(join(jobsDir, 'partial.json.tmp'))).toBe(true);
    renameSync(join(jobsDir, '.hidden.json'), join(jobsDir, 'renamed.json'));
    await until(() => done('moved.json') && done('renamed.json'));
    expect(readResult(a.job_id).status).toBe('completed');
    expect(readResult(b.job_id).status).toBe('completed');
    expect(existsSync(join(jobsDir, 'partial.json.tmp'))).toBe(true);
    rmSync(join(jobsDir, 'partial.json.tmp'));
  });

  it('never reads a slowly written file before it is complete', async () => {
    const j = echoJob({ slow: 'x'.repeat(2000) });
    const text = JSON.stringify(j);
    const fh = await open(join(jobsDir, 'slow.json'), 'w');
    // 10 chunks, 60 ms apart (each gap shorter than the 150 ms stability window).
    const step = Math.ceil(text.length / 10);
    for (let i = 0; i < text.length; i += step) {
      await fh.write(text.slice(i, i + step));
      await sleep(60);
    }
    await fh.close();
    await until(() => done('slow.json') || failed('slow.json'));
    expect(done('slow.json')).toBe(true);
    expect(readResult(j.job_id).status).toBe('completed');
  });

  it('.yaml and .yml files', async () => {
    const a = echoJob({ yaml: 1 });
    const b = echoJob({ yml: 2 });
    writeFileSync(join(jobsDir, 'job.yaml'), stringify(a));
    writeFileSync(join(jobsDir, 'job.yml'), stringify(b));
    await until(() => done('job.yaml') && done('job.yml'));
    expect(readResult(a.job_id).data).toMatchObject({ echo: { yaml: 1 } });
    expect(readResult(b.job_id).data).toMatchObject({ echo: { yml: 2 } });
  });

  it('garbage and invalid documents go to failed/ with the reason', async () => {
    writeFileSync(join(jobsDir, 'garbage.json'), Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42]));
    const bad = { ...echoJob(), execution: { priority: 42 } };
    writeFileSync(join(jobsDir, 'badprio.json'), JSON.stringify(bad));
    writeFileSync(join(jobsDir, 'garbage.yaml'), 'key: [unclosed');
    await until(() => failed('garbage.json') && failed('badprio.json') && failed('garbage.yaml'));
    const reason = (n: string) => readFileSync(join(jobsDir, 'failed', `${n}.reason.txt`), 'utf8');
    expect(reason('garbage.json')).toMatch(/^VALIDATION_ERROR: Malformed JSON/);
    expect(reason('badprio.json')).toBe(
      'VALIDATION_ERROR: Invalid field value: execution.priority - must be 1-10, got 42\n',
    );
    expect(reason('garbage.yaml')).toMatch(/^VALIDATION_ERROR: Malformed YAML/);
    expect(existsSync(resultPath(bad.job_id))).toBe(false);
    expect(errors.some((e) => e.includes('Malformed JSON'))).toBe(true);
  });

  it('a job that fails writes its failure result and moves to failed/ with the reason', async () => {
    const j = echoJob({}, (b) => b.deadline(new Date(Date.now() - 60_000)));
    writeFileSync(join(jobsDir, 'late.json'), JSON.stringify(j));
    await until(() => failed('late.json'));
    expect(readResult(j.job_id)).toMatchObject({ status: 'failed', error: { code: 'DEADLINE_EXCEEDED' } });
    expect(readFileSync(join(jobsDir, 'failed', 'late.json.reason.txt'), 'utf8')).toMatch(
      /^failed: DEADLINE_EXCEEDED: /,
    );
  });

  it('a re-dropped file of a finished job is acknowledged without running again; exactly one result file', async () => {
    const j = echoJob({ once: true });
    writeFileSync(join(jobsDir, 'again.json'), JSON.stringify(j));
    await until(() => done('again.json'));
    const first = readFileSync(resultPath(j.job_id), 'utf8');
    let runs = 0;
    const onStatus = (e: { job_id: string; to: string }) =>
      e.job_id === j.job_id && e.to === 'running' && runs++;
    worker.on('status', onStatus);
    writeFileSync(join(jobsDir, 'again.json'), JSON.stringify(j));
    await until(() => !existsSync(join(jobsDir, 'again.json')));
    worker.off('status', onStatus);
    expect(runs).toBe(0);
    expect(readFileSync(resultPath(j.job_id), 'utf8')).toBe(first);
    expect(readdirSync(resultsDir).filter((f) => f.startsWith(j.job_id))).toEqual([
      `${j.job_id}-result.json`,
    ]);
    expect(readdirSync(resultsDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

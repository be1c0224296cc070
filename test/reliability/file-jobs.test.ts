// Hostile job files through the real file transport (chokidar watcher) and worker: a symlink to a
// secret file (its first bytes used to come back in failed/<name>.reason.txt through the JSON parse
// error), a symlink to /dev/zero (an endless read), a FIFO (a read that never ends), 300 KiB of '['
// as YAML (the parser ran out of memory and killed the process). Each lands in failed/ with a reason
// that leaks nothing, and a good job file after them still completes.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { echoJob } from '../../src/protocol/builder.js';
import { FileTransport } from '../../src/transports/file/index.js';
import { createWorker } from '../../src/worker/worker.js';

const dir = mkdtempSync(join(tmpdir(), 'gk-rel-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hostile job files', () => {
  it('refuses symlinks, FIFOs, devices and hostile YAML without leaking or stalling', async () => {
    const jobs = join(dir, 'jobs');
    const results = join(dir, 'results');
    mkdirSync(jobs);
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'TOPSECRET root hash 19000:0:99999:7:::\n'); // parse errors quote the first bytes
    const worker = createWorker({
      stateDir: join(dir, 'state'),
      workDir: dir,
      jobsDir: jobs,
      resultsDir: results,
    });
    await worker.start();
    const transport = new FileTransport({
      worker,
      jobsDir: jobs,
      resultsDir: results,
      logger: createLogger({ level: 'silent' }),
      stabilityMs: 100,
    });
    await transport.start();
    try {
      symlinkSync(secret, join(jobs, 'shadow.json'));
      symlinkSync('/dev/zero', join(jobs, 'zero.json'));
      execFileSync('mkfifo', [join(jobs, 'pipe.json')]);
      writeFileSync(join(jobs, '.deep.yaml'), '['.repeat(300_000));
      renameSync(join(jobs, '.deep.yaml'), join(jobs, 'deep.yaml'));
      const hostile = ['shadow.json', 'zero.json', 'pipe.json', 'deep.yaml'];
      const failed = join(jobs, 'failed');
      const end = Date.now() + 60_000;
      while (Date.now() < end && !hostile.every((f) => existsSync(join(failed, `${f}.reason.txt`))))
        await new Promise((r) => setTimeout(r, 100));
      for (const f of hostile) {
        const reason = readFileSync(join(failed, `${f}.reason.txt`), 'utf8');
        expect(reason, f).toMatch(/VALIDATION_ERROR/);
        expect(reason, f).not.toContain('TOPSECRET');
      }
      expect(readFileSync(join(failed, 'shadow.json.reason.txt'), 'utf8')).toMatch(/symlink/);
      expect(readFileSync(join(failed, 'pipe.json.reason.txt'), 'utf8')).toMatch(/not a regular file/);

      const good = echoJob({ after: 'hostile files' });
      writeFileSync(join(jobs, '.good.json'), JSON.stringify(good));
      renameSync(join(jobs, '.good.json'), join(jobs, 'good.json'));
      const until = Date.now() + 30_000;
      while (!(await worker.get(good.job_id)) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      const doc = await worker.waitFor(good.job_id, { signal: AbortSignal.timeout(30_000) });
      expect(doc.status).toBe('completed');
    } finally {
      await transport.stopWatching();
      await worker.stop();
      await transport.stop();
    }
  }, 90_000);
});

// The Quick start as a newcomer runs it: scripts/run-sample builds (or reuses) the sample image,
// runs the daemon once on the bundled jobs and prints the rendered inspection. The report must
// show the hostname and package count the sample's recipe planted.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_FACTS } from '../../scripts/sample/recipe.js';
import { buildDist, cleanupDist } from './api-helpers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

function runSample(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      'bash',
      ['scripts/run-sample'],
      { cwd: ROOT, timeout: 600_000 },
      (err, stdout, stderr) =>
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

describe('scripts/run-sample', () => {
  let out: { code: number | null; stdout: string; stderr: string };
  beforeAll(async () => {
    buildDist();
    out = await runSample();
  }, 600_000);
  afterAll(() => cleanupDist());

  it('exits 0 and prints the echo result, then the rendered inspection of the sample image', () => {
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('completed {"message":"hello from the bundled sample job"}');
    // The inspect view: hostname first, the OS as Ubuntu writes its version.
    expect(out.stdout).toMatch(
      new RegExp(`^${SAMPLE_FACTS.hostname}  Ubuntu 22\\.04\\.3 LTS \\(ubuntu 22\\.04, x86_64\\)$`, 'm'),
    );
    expect(out.stdout).toMatch(new RegExp(`^packages +${SAMPLE_FACTS.packages.length} \\(deb/apt\\)$`, 'm'));
    expect(out.stdout).toContain('checksum verified');
    expect(out.stdout).toMatch(/^ {2}high +SSH permits root login/m);
    expect(out.stdout).toMatch(/^ {2}alice +1000 +\/bin\/bash/m);
    expect(out.stdout).toMatch(/^appliance: started in \d+\.\d s/m);
    expect(out.stdout).toContain('result documents: ');
    expect(out.stdout).not.toContain('"level":'); // log lines, if any, are for people, not JSON
  });

  it('leaves result documents whose report carries the recipe hostname and package count', () => {
    const doc = JSON.parse(
      readFileSync(join(ROOT, 'work/sample-run/results/job-sample-inspect-0001-result.json'), 'utf8'),
    ) as {
      status: string;
      data: { report: { operating_system: { hostname: string }; packages: { count: number } } };
    };
    expect(doc.status).toBe('completed');
    expect(doc.data.report.operating_system.hostname).toBe(SAMPLE_FACTS.hostname);
    expect(doc.data.report.packages.count).toBe(SAMPLE_FACTS.packages.length);
  });
});

// deploy/test.sh: builds deploy/Containerfile with buildah on the local node:20 stand-in and, inside
// the image, runs --version, the bundled sample job and an inspect of a fixture image (a real
// appliance under TCG, from the cache the image was built with). SLOW: minutes cold, ~1-2 min when
// buildah's layers and the base image are cached. buildah missing is a failure, not a skip.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

describe('container image', () => {
  it('builds, and runs --version, the sample job and an inspect inside the image', () => {
    const r = spawnSync('bash', [join(ROOT, 'deploy/test.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, GUESTKIT_IMAGE_TAG: 'localhost/guestkit-worker:test' },
    });
    process.stdout.write(r.stdout);
    if (r.status !== 0) process.stderr.write(r.stderr.slice(-8000));
    expect(r.status).toBe(0);
    const version = JSON.parse(
      spawnSync('node', ['-p', 'JSON.stringify(require("./package.json").version)'], {
        cwd: ROOT,
        encoding: 'utf8',
      }).stdout,
    ) as string;
    expect(r.stdout).toContain(`version: ${version}`);
    expect(r.stdout).toMatch(/^sample_job: \S+ completed$/m);
    expect(r.stdout).toContain('inspect: debian found in the fixture image');
    expect(r.stdout).toContain('appliance_cache: reused');
    expect(r.stdout).toMatch(/^image_size: \S+/m);
    expect(r.stdout).toMatch(/^build_seconds: \d+$/m);
  }, 1_800_000);
});

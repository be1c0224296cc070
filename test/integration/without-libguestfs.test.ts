// A machine without libguestfs: the library still hashes, the daemon still serves echo jobs, the
// API and health, capabilities leave the disk operations out, and every way into libguestfs says
// what to install. libguestfs is hidden for real: a private mount namespace (unshare -m) puts
// /dev/null over libguestfs.so.0, so the dynamic loader fails as on a machine where the package is
// missing or broken. Needs root (as the rest of the suite): without it this test fails, not skips.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoJob, inspectJob } from '../../src/protocol/builder.js';
import { buildDist, cleanupDist, ROOT, startDaemon, type Daemon } from './api-helpers.js';

const LIBGUESTFS = realpathSync('/usr/lib/x86_64-linux-gnu/libguestfs.so.0');
/** Runs a command with libguestfs hidden: `[...HIDDEN, cmd, ...args]`. */
const HIDDEN = ['unshare', '-m', 'sh', '-c', `mount --bind /dev/null '${LIBGUESTFS}' && exec "$@"`, 'hide'];
const HINT =
  /libguestfs is not available \(libguestfs\.so\.0: .+\): install libguestfs: on Debian\/Ubuntu `apt install libguestfs0/;

let daemon: Daemon;

beforeAll(async () => {
  buildDist();
  daemon = await startDaemon([], {}, HIDDEN);
});

afterAll(async () => {
  await daemon?.stop();
  cleanupDist();
});

describe('without libguestfs', () => {
  it('the library imports, hashes, and names the package to install on the first Guestfs use', () => {
    const script = `
      const m = await import('guestkit-worker');
      const out = { hash: await m.sha256File('package.json'), availability: m.libguestfsAvailability() };
      try { new m.Guestfs(); } catch (e) { out.construct = e.message; }
      try { await m.Guestfs.create(); } catch (e) { out.create = e.message; }
      console.log(JSON.stringify(out));`;
    const stdout = execFileSync(
      HIDDEN[0],
      [...HIDDEN.slice(1), process.execPath, '--input-type=module', '-e', script],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    const out = JSON.parse(stdout) as {
      hash: string;
      availability: { available: boolean; reason: string };
      construct: string;
      create: string;
    };
    expect(out.hash).toBe(
      execFileSync('sha256sum', ['package.json'], { cwd: ROOT, encoding: 'utf8' }).split(' ')[0],
    );
    expect(out.availability.available).toBe(false);
    expect(out.availability.reason).toMatch(HINT);
    expect(out.construct).toMatch(HINT);
    expect(out.create).toMatch(HINT);
  });

  it('the daemon serves echo jobs, health says why libguestfs is unusable, capabilities omit disk operations', async () => {
    const api = `${daemon.url}/api/v1`;
    const echo = echoJob({ message: 'no libguestfs here' });
    const submitted = await fetch(`${api}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(echo),
    });
    expect(submitted.status).toBe(201);
    let status = '';
    for (let i = 0; i < 200 && status !== 'completed'; i++) {
      status = ((await (await fetch(`${api}/jobs/${echo.job_id}`)).json()) as { status: string }).status;
      if (status !== 'completed') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('completed');
    const result = (await (await fetch(`${api}/jobs/${echo.job_id}/result`)).json()) as { data: unknown };
    expect(JSON.stringify(result.data)).toContain('no libguestfs here');

    const caps = (await (await fetch(`${api}/capabilities`)).json()) as { operations: string[] };
    expect(caps.operations).toContain('system.echo');
    // convert needs only qemu-img; every operation that reads a guest needs libguestfs.
    expect(caps.operations.filter((op) => op.startsWith('guestkit.'))).toEqual(['guestkit.convert']);

    const health = (await (await fetch(`${daemon.url}/health`)).json()) as {
      status: string;
      checks: Record<string, { status: string; message?: string }>;
    };
    expect(health.status).toBe('degraded');
    expect(health.checks.store.status).toBe('ok');
    expect(health.checks.libguestfs.status).toBe('error');
    expect(health.checks.libguestfs.message).toMatch(HINT);

    // A disk job is refused at the door with a coded error, not accepted and failed later.
    const inspect = await fetch(`${api}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(inspectJob('/nonexistent/disk.img')),
    });
    const refusal = (await inspect.json()) as { error?: string; message?: string };
    expect(inspect.status).toBe(400);
    expect(refusal.error).toBe('CAPABILITY_MISMATCH');
    expect(refusal.message).toMatch(HINT);
  });
});

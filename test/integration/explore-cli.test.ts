// `guestkit-worker explore` script forms, run as the compiled CLI on real appliances: locally (one
// invocation, one launch, every option) and through a real daemon (--api-url, one launch), whose
// session is closed when the command ends (and counted in its metrics).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExploreImages, type ExploreImages } from '../explore/fixture.js';
import { buildDist, cleanupDist, cli, sample, startDaemon, type Daemon } from './api-helpers.js';
import { qemuChildren } from './qemu-children.js';

let dir: string;
let images: ExploreImages;
let daemon: Daemon | undefined;

beforeAll(async () => {
  buildDist();
  dir = await mkdtemp(join(tmpdir(), 'explore-cli-'));
  images = await buildExploreImages(dir);
});
afterAll(async () => {
  await daemon?.stop();
  cleanupDist();
  await rm(dir, { recursive: true, force: true });
});

const LOGS = ['/var/log/app/api.log', '/var/log/app/worker.log', '/var/log/syslog.log'];

describe('guestkit-worker explore (script forms)', () => {
  it('answers --ls, --find and each --cat from one local session, then fails with the code of a missing file', async () => {
    const r = await cli([
      'ex',
      images.os,
      '--format',
      'raw',
      '--ls',
      '/home/alice',
      '--find',
      '/var/log/*.log',
      '--cat',
      '/home/alice/shadow-link',
      '--cat',
      '/no/such',
    ]);
    // ls -l lines, symlinks with their stored targets, owners from the guest's /etc/passwd.
    expect(r.stdout).toMatch(/^lrwxrwxrwx .* shadow-link -> \/etc\/shadow$/m);
    expect(r.stdout).toMatch(/^-rw-r--r-- alice alice +17 .* \.bashrc$/m);
    for (const log of LOGS) expect(r.stdout).toMatch(new RegExp(`^${log}$`, 'm'));
    expect(r.stdout).not.toMatch(/old\.log\.1/);
    // The link to /etc/shadow is followed inside the guest: the guest's file, not the host's.
    expect(r.stdout).toContain('root:GUEST-SHADOW-MARKER:');
    expect(r.stderr).toContain('FILE_NOT_FOUND');
    expect(r.code).toBe(1);
    expect(qemuChildren()).toEqual([]);
  });

  it('without a terminal and without a script option, says what to use and exits 2 (no launch)', async () => {
    const r = await cli(['explore', images.os, '/etc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--ls /etc');
  });

  it('--api-url explores through the daemon, whose confinement applies, and closes the session', async () => {
    daemon = await startDaemon([], { GUESTKIT_ALLOWED_ROOTS: dir });
    const outside = await cli(['explore', '/etc/hostname', '--api-url', daemon.url, '--ls', '/']);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain('PATH_NOT_ALLOWED');

    const r = await cli([
      'explore',
      images.os,
      '--api-url',
      daemon.url,
      '--format',
      'raw',
      '-o',
      'json',
      '--ls',
      '/srv/data',
      '--cat',
      '/etc/os-release',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = r.stdout.slice(0, r.stdout.indexOf('\n]\n') + 3);
    const names = (JSON.parse(json) as { name: string; type: string }[]).map((e) => `${e.name}:${e.type}`);
    expect(names).toEqual(expect.arrayContaining(['big.bin:file', 'disk-node:block', 'utf8.txt:file']));
    expect(r.stdout).toContain('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"');
    // DELETE ran: the daemon's session is gone, and its appliance with it.
    expect(daemon.log()).toMatch(/"reason":"closed"[^\n]*explore session closed/);
    // The daemon's metrics count it: one opened (the refused image never was), one closed, none left.
    // The appliance is killed after DELETE answers: wait (bounded) for the gauge to reach 0.
    const scrape = async () => (await fetch(`${daemon!.metricsUrl}/metrics`)).text();
    let m = await scrape();
    for (let i = 0; i < 300 && sample(m, 'guestkit_explore_appliances') !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      m = await scrape();
    }
    expect(sample(m, 'guestkit_explore_sessions_opened_total')).toBe(1);
    expect(sample(m, 'guestkit_explore_sessions_closed_total', { reason: 'closed' })).toBe(1);
    expect(m).toMatch(/^guestkit_explore_sessions_closed_total\{reason="expired"\} 0$/m);
    expect(m).toMatch(/^guestkit_explore_sessions 0$/m);
    expect(m).toMatch(/^guestkit_explore_appliances 0$/m);
  });
});

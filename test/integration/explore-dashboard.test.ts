// The dashboard's Files page in a real headless Chromium against the real API (token auth) and a
// real explore session (one appliance launch for the file): browse to a file and see its preview,
// a binary file as hex, a multi-MiB download equal to the file, and the session closed when the
// page is left. Screenshot: test-results/screenshots/files.png.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/app.js';
import { ExploreSessions } from '../../src/explore/sessions.js';
import { BIG_BYTES, BIG_SHA256, buildExploreImages, type ExploreImages } from '../explore/fixture.js';
import { startTestWorker, type TestWorker } from '../unit/worker-helpers.js';
import { qemuChildren } from './qemu-children.js';

const ROOT = join(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-results/screenshots');
const TOKEN = 'explore-dashboard-token-5e2a';

let dir: string;
let images: ExploreImages;
let tw: TestWorker;
let sessions: ExploreSessions;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // The page under test is what `npm run build:dashboard` makes; the lock serialises builders.
  execFileSync('flock', ['/tmp/guestkit-dashboard-build.lock', 'npm', 'run', '--silent', 'build:dashboard'], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  dir = await mkdtemp(join(tmpdir(), 'explore-dash-'));
  images = await buildExploreImages(dir);
  tw = await startTestWorker({ allowedRoots: [dir] });
  sessions = new ExploreSessions({ config: tw.worker.config, maxSessions: 1, ttlMs: 600_000 });
  app = await buildApi(tw.worker, { token: TOKEN, explore: sessions });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
    timeout: 120_000,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  context.setDefaultTimeout(180_000);
  page = await context.newPage();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await sessions?.closeAll();
  await tw?.cleanup();
  await rm(dir, { recursive: true, force: true });
  expect(qemuChildren()).toEqual([]);
});

const row = (name: string) =>
  page.locator('table.files-table tbody tr').filter({ has: page.getByRole('link', { name, exact: true }) });
const preview = () => page.getByTestId('preview');
/** Waits (bounded, not timed) for the page to reach a state: the machine is shared and slow. */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 120_000, interval: 200 });

describe('dashboard Files page (Chromium)', () => {
  it('browses to /etc/os-release and shows its preview; hex for a binary; downloads a multi-MiB file', async () => {
    await page.goto(`${base}/#/files/${encodeURIComponent(images.os)}`);
    // No token yet: the session request is refused and the page asks for one.
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await row('etc/').getByRole('link').click();
    await poll(() => page.locator('.breadcrumb [aria-current="page"]').textContent()).toBe('etc');
    await row('os-release').waitFor();
    await page.getByLabel('Filter').fill('os-release');
    await poll(() => page.locator('table.files-table tbody tr').count()).toBe(1);
    await row('os-release').getByRole('link').click();
    await poll(() => preview().textContent()).toContain('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"');
    expect(await page.locator('.preview h2').textContent()).toBe('/etc/os-release');
    expect(await preview().locator('.ln').first().textContent()).toBe('1');
    await page.screenshot({ path: join(SHOTS, 'files.png'), fullPage: true });

    // The breadcrumb leads back; a binary file is shown as hex.
    await page.locator('.breadcrumb').getByRole('link', { name: '/', exact: true }).click();
    await row('srv/').getByRole('link').click();
    await row('data/').getByRole('link').click();
    await row('blob.bin').getByRole('link').click();
    await poll(() => preview().textContent()).toContain('00000000  7f 45 4c 46 02 01 01 00');
    expect(await page.locator('.preview').textContent()).toContain('binary, shown as hex');

    // A 6 MiB file: the preview is its first 64 KiB, the download all of it, streamed by the API.
    await row('big.bin').getByRole('link').click();
    await poll(() => page.locator('.preview').textContent()).toContain(`first 65536 of ${BIG_BYTES} bytes`);
    const [dl] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.preview').getByRole('button', { name: 'Download' }).click(),
    ]);
    expect(dl.suggestedFilename()).toBe('big.bin');
    const got = readFileSync(await dl.path());
    expect(got.length).toBe(BIG_BYTES);
    expect(createHash('sha256').update(got).digest('hex')).toBe(BIG_SHA256);
  }, 600_000);

  it('closes the session when the page is left', async () => {
    expect(sessions.size).toBe(1);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    await poll(() => sessions.size).toBe(0);
    await poll(() => sessions.appliances()).toBe(0);
  }, 300_000);
});

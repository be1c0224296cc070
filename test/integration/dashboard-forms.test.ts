// The dashboard's submit forms, generated from the operation payload schemas, in a real headless
// Chromium against the real API and worker (SQLite store, the profile handler, one appliance): a
// form for every operation the worker runs, each control labelled, and a guestkit.profile of a
// fixture image submitted from its form runs to completed and opens its report.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedAppliancePool, configureSharedAppliancePool } from '../../lib/appliance/index.js';
import { buildApi } from '../../src/api/app.js';
import { systemEchoHandler } from '../../src/handlers/echo.js';
import { profileHandler } from '../../src/handlers/profile/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { OPERATION_PAYLOADS } from '../../src/protocol/payloads/index.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { startTestWorker, type TestWorker } from '../unit/worker-helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-results/screenshots');
const TOKEN = 'dashboard-forms-token-7c1e';

let tw: TestWorker;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;
let fixture: Fixture;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  execFileSync('flock', ['/tmp/guestkit-dashboard-build.lock', 'npm', 'run', '--silent', 'build:dashboard'], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  [fixture] = await getFixtures(['debian-like']);
  configureSharedAppliancePool({ maxAppliances: 1 });
  tw = await startTestWorker(
    { maxConcurrent: 2 },
    new HandlerRegistry().register(systemEchoHandler).register(profileHandler),
  );
  app = await buildApi(tw.worker, { token: TOKEN });
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
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(60_000);
  page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByLabel('API token').press('Enter');
  await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await tw?.cleanup();
  await closeSharedAppliancePool();
});

const operation = () => page.getByLabel('Operation', { exact: true });

describe('submit forms from the payload schemas', () => {
  it('offers a form for each operation the worker runs, every control labelled', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Submit' }).click();
    await operation().waitFor();
    // The worker here runs echo and profile: the form offers exactly those it has schemas for.
    await expect
      .poll(() => operation().locator('option').allTextContents())
      .toEqual(
        Object.keys(OPERATION_PAYLOADS).filter((o) => o === 'system.echo' || o === 'guestkit.profile'),
      );
    for (const op of ['system.echo', 'guestkit.profile']) {
      await operation().selectOption(op);
      await page.getByRole('button', { name: `Submit ${op}` }).waitFor();
      const unlabelled =
        await page.evaluate(`[...document.querySelectorAll('.op-form input, .op-form select, .op-form textarea')]
        .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`);
      expect(unlabelled, op).toEqual([]);
    }
    // An invalid value is not sent.
    const before = (await tw.worker.list({})).total;
    await page.getByLabel('options.fail_on_critical').selectOption('true');
    await page.getByLabel('image.path').fill('/x.img');
    await page.getByLabel('image.size_bytes').fill('1.5');
    await page.getByRole('button', { name: 'Submit guestkit.profile' }).click();
    // The browser's own check stops it (whole numbers only, from the schema's integer type).
    const field = page.getByLabel('image.size_bytes');
    expect(
      await field.evaluate((el) => (el as unknown as { validity: { valid: boolean } }).validity.valid),
    ).toBe(false);
    expect((await tw.worker.list({})).total).toBe(before);
  }, 180_000);

  it('runs a guestkit.profile submitted from its form to completed and opens its report', async () => {
    await operation().selectOption('system.echo');
    await operation().selectOption('guestkit.profile'); // fresh values
    await page.getByLabel('image.path').fill(fixture.path);
    await page.getByLabel('image.format').selectOption(fixture.format);
    await page.getByRole('group', { name: 'profiles' }).getByLabel('security').check();
    await page.getByLabel('options.severity_threshold').selectOption('low');
    await page.screenshot({ path: join(SHOTS, 'submit-profile-form-1280.png'), fullPage: true });
    await page.getByRole('button', { name: 'Submit guestkit.profile' }).click();
    await page.waitForURL(/#\/jobs\/profile-/);
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    const sub = await tw.worker.submitted(id);
    expect(sub?.envelope.payload).toEqual({
      type: 'guestkit.profile.v1',
      data: {
        image: { path: fixture.path, format: fixture.format },
        profiles: ['security'],
        options: { severity_threshold: 'low' },
      },
    });
    const done = await tw.worker.waitFor(id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    await expect.poll(() => page.locator('.job-head .badge').first().textContent()).toBe('completed');
    await page.getByRole('link', { name: 'Open the profile report' }).click();
    await page.waitForURL(/\/report$/);
    const result = await tw.worker.result(id);
    expect(result?.data).toMatchObject({ status: 'success', summary: { profiles: ['security'] } });
    await page.getByRole('heading', { level: 1 }).first().waitFor();
  }, 1_200_000);
});

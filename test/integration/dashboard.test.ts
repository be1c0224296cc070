// The web dashboard in a real headless Chromium (Debian's, driven by playwright-core) against the
// real API (buildApi) and worker (SQLite store, real handlers) in this process, with a token.
// One appliance launch for the whole file: the inspect jobs of debian-like and multi-os (two
// roots) and a compare job (rhel-like → debian-like-updated; every fstab by UUID or label, so drive
// order does not matter) are submitted together and batched into one appliance. Screenshots: test-results/screenshots/.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeSharedAppliancePool,
  configureSharedAppliancePool,
  getSharedAppliancePool,
} from '../../lib/appliance/index.js';
import { buildApi } from '../../src/api/app.js';
import { compareHandler } from '../../src/handlers/compare/index.js';
import { systemEchoHandler } from '../../src/handlers/echo.js';
import { inspectHandler } from '../../src/handlers/inspect/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { echo, job, startTestWorker, type TestWorker } from '../unit/worker-helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-results/screenshots');
const TOKEN = 'dashboard-test-token-1f9c';
const PLANTED = 'postgresql-15';
/** The appliance jobs share the machine with other suites: their tests wait long. */
const LONG = 1_200_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let tw: TestWorker;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const fx: Record<string, Fixture> = {};
const ids = { inspect: '', multi: '', compare: '' };
/** Requests the page made to anything but the API's origin (no CDN, no network at run time). */
const foreign: string[] = [];

const shot = async (name: string, p: Page = page) => {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
};
const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
const badge = (p: Page = page) => p.locator('.job-head .badge').first();

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // The page under test is what `npm run build:dashboard` makes (dist/dashboard): build it now so
  // the test never runs against stale files. The lock serialises parallel builders.
  execFileSync('flock', ['/tmp/guestkit-dashboard-build.lock', 'npm', 'run', '--silent', 'build:dashboard'], {
    cwd: ROOT,
    stdio: 'pipe',
    // vitest sets NODE_ENV=test, which would make Vite emit a non-production bundle.
    env: { ...process.env, NODE_ENV: 'production' },
  });
  for (const f of await getFixtures(['debian-like', 'debian-like-updated', 'rhel-like', 'multi-os']))
    fx[f.name] = f;

  // One appliance for all four drives: a single slot and a window wide enough for the jobs'
  // probing to finish on a loaded machine.
  configureSharedAppliancePool({ maxAppliances: 1, batchWindowMs: 8000 });
  tw = await startTestWorker(
    { maxConcurrent: 4 },
    new HandlerRegistry().register(systemEchoHandler).register(inspectHandler).register(compareHandler),
  );
  const inspect = job('guestkit.inspect', { image: { path: fx['debian-like'].path, format: 'raw' } }, (b) =>
    b.timeout(1500),
  );
  const multi = job('guestkit.inspect', { image: { path: fx['multi-os'].path, format: 'raw' } }, (b) =>
    b.timeout(1500),
  );
  const compare = job(
    'guestkit.compare',
    {
      baseline: { path: fx['rhel-like'].path, format: 'qcow2' },
      target: { path: fx['debian-like-updated'].path, format: 'qcow2' },
      recommendations: true,
    },
    (b) => b.timeout(1500),
  );
  await Promise.all([tw.worker.submit(inspect), tw.worker.submit(multi), tw.worker.submit(compare)]);
  ids.inspect = inspect.job_id;
  ids.multi = multi.job_id;
  ids.compare = compare.job_id;

  app = await buildApi(tw.worker, { token: TOKEN });
  base = await app.listen({ host: '127.0.0.1', port: 0 });

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 120_000,
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(60_000);
  page = await context.newPage();
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  const launches = getSharedAppliancePool().status().launches;
  await tw?.cleanup();
  await closeSharedAppliancePool();
  expect(launches).toBeLessThanOrEqual(1);
  expect(foreign).toEqual([]);
});

describe('dashboard in a real browser', () => {
  it('serves the page without a token, data only with one: the login stores it for the session', async () => {
    const anon = await fetch(`${base}/`);
    expect(anon.status).toBe(200);
    expect(anon.headers.get('content-type')).toMatch(/text\/html/);
    expect((await fetch(`${base}/api/v1/stats`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/events`)).status).toBe(401);
    expect((await fetch(`${base}/assets/nope.js`)).status).toBe(404);

    await page.goto(`${base}/`);
    const field = page.getByLabel('API token');
    await field.waitFor();
    await shot('login-1280');
    await field.fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The token was refused').waitFor();
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('guestkit-worker.api-token')")).toBe(TOKEN);
    // Every form control has a label a screen reader can read.
    // (Browser-side code is passed as text: this file is type-checked without the DOM library.)
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`);
    expect(unlabelled).toEqual([]);
  }, 180_000);

  it('submits an echo job from the form, follows it to completed and opens its result', async () => {
    await nav('Submit').click();
    const textarea = page.getByLabel('Job Protocol v1 envelope');
    await textarea.waitFor();
    const prefilled = JSON.parse(await textarea.inputValue()) as { operation: string; job_id: string };
    expect(prefilled.operation).toBe('system.echo');
    await shot('submit-1280');
    // Keyboard only: focus the button and press Enter.
    await page.getByRole('button', { name: 'Submit job' }).press('Enter');
    await page.waitForURL(new RegExp(`#/jobs/${prefilled.job_id}$`));
    await expect.poll(() => badge().textContent(), { timeout: 60_000 }).toBe('completed');
    const result = page.getByLabel('Result document');
    await result.waitFor();
    expect(await result.textContent()).toContain('Echo handler executed successfully');
    expect(await result.textContent()).toContain('hello from the dashboard');
    // The timeline holds the job's stored progress events, in order.
    await expect
      .poll(() =>
        page.locator('.timeline li').evaluateAll((li) => li.map((l) => l.getAttribute('data-phase'))),
      )
      .toEqual(['validation', 'result_generation']);
    expect((await tw.worker.get(prefilled.job_id))?.status).toBe('completed');
    await shot('job-completed-1280');
  }, 180_000);

  it('cancels a running job from its page', async () => {
    await nav('Submit').click();
    const textarea = page.getByLabel('Job Protocol v1 envelope');
    const doc = JSON.parse(await textarea.inputValue()) as { job_id: string; payload: { data: object } };
    doc.payload.data = { sleep_ms: 60_000 };
    await textarea.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Submit job' }).click();
    await page.waitForURL(new RegExp(`#/jobs/${doc.job_id}$`));
    await expect
      .poll(async () => (await tw.worker.get(doc.job_id))?.status, { timeout: 60_000 })
      .toBe('running');
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => badge().textContent(), { timeout: 30_000 }).toBe('cancelled');
    const stored = await tw.worker.get(doc.job_id);
    expect(stored?.status).toBe('cancelled');
    // Stopped by the cancel, not by the end of the 60 s sleep.
    expect(Date.parse(stored!.completed_at!) - Date.parse(stored!.started_at!)).toBeLessThan(30_000);
    await page.getByRole('alert').filter({ hasText: 'CANCELLED' }).waitFor();
    await shot('job-cancelled-1280');
  }, 180_000);

  it('shows a refused job with its error code (quick inspect of a path outside the allowed roots)', async () => {
    await nav('Submit').click();
    await page.getByLabel('Disk image path (on the worker)').fill('/etc/../etc/passwd.qcow2');
    await page.getByRole('button', { name: 'Inspect image' }).click();
    await page.waitForURL(/#\/jobs\/inspect-/);
    // Refused when it runs (paths are checked before the image): the job page shows the code.
    await expect.poll(() => badge().textContent(), { timeout: 60_000 }).toBe('failed');
    await page.locator('.error-code').filter({ hasText: 'PATH_NOT_ALLOWED' }).first().waitFor();
    await page.locator('.job-head .mono').filter({ hasText: '/etc/../etc/passwd.qcow2' }).waitFor();
    await shot('inspect-refused-1280');
  }, 180_000);

  it('retries a failed job as a new job that completes; deletes a finished job and its result for good', async () => {
    // Failed for good: its deadline had passed when it was submitted (DEADLINE_EXCEEDED).
    const past = new Date(Date.now() - 3600_000).toISOString();
    const failed = echo({ message: 'retry me' }, (b) =>
      b.deadline(past).idempotencyKey(`retry-${Date.now()}`),
    );
    await tw.worker.submit(failed);
    expect((await tw.worker.waitFor(failed.job_id)).status).toBe('failed');
    await page.goto(`${base}/#/jobs/${failed.job_id}`);
    await expect.poll(() => badge().textContent(), { timeout: 60_000 }).toBe('failed');
    // The job page shows what was submitted and its attempts.
    await page.getByText('Job envelope (JSON)').click();
    expect(await page.getByLabel('Submitted job envelope').textContent()).toContain('retry me');
    await page.getByRole('region', { name: 'Status history' }).getByText('submitted').waitFor();
    await shot('job-failed-1280');

    await page.getByRole('button', { name: 'Retry as a new job' }).click();
    await page.waitForURL(/#\/jobs\/retry-/);
    const retryId = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    expect(retryId).not.toBe(failed.job_id);
    await expect.poll(() => badge().textContent(), { timeout: 60_000 }).toBe('completed');
    const retried = await tw.worker.submitted(retryId);
    expect(retried?.envelope.payload).toEqual(failed.payload);
    expect(retried?.envelope.metadata?.labels).toMatchObject({ retry_of: failed.job_id });
    expect((await tw.worker.result(retryId))?.data).toMatchObject({ echo: { message: 'retry me' } });
    expect((await tw.worker.get(failed.job_id))?.status).toBe('failed'); // the original stays as it was

    // Delete the completed retry: a second step confirms, then it is gone with its result.
    await page.getByRole('button', { name: 'Delete job…' }).click();
    await page.getByRole('button', { name: 'Delete for good' }).click();
    await page.waitForURL(/#\/jobs$/);
    expect(await tw.worker.get(retryId)).toBeUndefined();
    expect(await tw.worker.result(retryId)).toBeUndefined();
    await page.locator(`tr[data-job-id="${failed.job_id}"]`).waitFor();
    expect(await page.locator(`tr[data-job-id="${retryId}"]`).count()).toBe(0);
    // The failed original's row: its error code, and how it ended instead of a partial bar.
    const row = page.locator(`tr[data-job-id="${failed.job_id}"]`);
    expect(await row.locator('.error-code').textContent()).toBe('DEADLINE_EXCEEDED');
    expect(await row.getByRole('progressbar').count()).toBe(0);
    await page.goto(`${base}/#/jobs/${retryId}`);
    await page.locator('.error-code').filter({ hasText: 'NOT_FOUND' }).first().waitFor();
  }, 180_000);

  it('lists jobs live: a job submitted elsewhere appears and completes without a reload; filters apply', async () => {
    await nav('Jobs').click();
    await page.locator('table.jobs').waitFor();
    await page.locator('.live-live').waitFor();
    const env = echo({ sleep_ms: 1500 });
    await tw.worker.submit(env);
    const row = page.locator(`tr[data-job-id="${env.job_id}"]`);
    await row.waitFor();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 60_000 }).toBe('completed');
    expect(await row.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');

    await page.getByLabel('Status').selectOption('cancelled');
    await expect
      .poll(() =>
        page.locator('table.jobs tbody tr').evaluateAll((r) => r.map((x) => x.getAttribute('data-status'))),
      )
      .toEqual(['cancelled']);
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Operation').selectOption('system.echo');
    await expect
      .poll(() => page.locator('table.jobs tbody tr').count())
      .toBe((await tw.worker.list({ operation: 'system.echo' })).total);

    // Metrics panel: finished jobs counted in its window.
    await expect
      .poll(async () => Number(await page.locator('[data-metric="jobs-per-minute"] dd').textContent()))
      .toBeGreaterThan(0);
    await page.getByLabel('Operation').selectOption('');
    await shot('jobs-1280');
    await page.setViewportSize({ width: 400, height: 800 });
    await shot('jobs-400');
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(400);
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 180_000);

  it('filters the list by image and deletes finished jobs in bulk', async () => {
    await nav('Jobs').click();
    await page.locator('table.jobs').waitFor();
    const rowIds = () =>
      page.locator('table.jobs tbody tr').evaluateAll((r) => r.map((x) => x.getAttribute('data-job-id')));
    await page.getByLabel('Image', { exact: true }).fill('debian-like');
    await expect.poll(async () => (await rowIds()).sort()).toEqual([ids.inspect, ids.compare].sort());
    await page.getByLabel('Image', { exact: true }).fill('');

    const done = [echo({ bulk: 1 }), echo({ bulk: 2 })];
    for (const j of done) await tw.worker.submit(j);
    for (const j of done) await tw.worker.waitFor(j.job_id);
    for (const j of done) {
      const box = page.getByLabel(`Select ${j.job_id}`);
      await box.waitFor();
      await box.check();
    }
    await page.getByRole('button', { name: 'Delete selected (2)…' }).click();
    await page.getByRole('button', { name: 'Delete 2 job(s) for good' }).click();
    await expect
      .poll(async () => (await rowIds()).filter((id) => done.some((j) => j.job_id === id)))
      .toEqual([]);
    for (const j of done) {
      expect(await tw.worker.get(j.job_id)).toBeUndefined();
      expect(await tw.worker.result(j.job_id)).toBeUndefined();
    }
    // Live jobs have no checkbox; the others are untouched.
    expect(await tw.worker.get(ids.inspect)).toBeDefined();
    await shot('jobs-bulk-1280');
  }, 180_000);

  it('shows workers, capabilities and health', async () => {
    await nav('Workers').click();
    const card = page.locator('[data-worker="worker-test"]');
    await card.waitFor();
    const ops = await card.getByRole('list', { name: 'Operations' }).textContent();
    for (const op of ['system.echo', 'guestkit.inspect', 'guestkit.compare']) expect(ops).toContain(op);
    await page.getByRole('heading', { name: /^Health: / }).waitFor();
    await shot('workers-1280');
  }, 180_000);

  it(
    'opens the inspection report of a real guestkit.inspect job and finds the planted package',
    async () => {
      const done = await tw.worker.waitFor(ids.inspect);
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      await page.goto(`${base}/#/jobs/${ids.inspect}`);
      await page.getByRole('link', { name: 'Open the inspection report' }).click();
      await page.getByRole('heading', { name: 'Inspection report' }).waitFor();
      const os = page.locator('#os');
      expect(await os.textContent()).toContain('debian');
      expect(await os.textContent()).toContain(fx['debian-like'].os!.hostname);

      const rows = page.locator('table.packages tbody tr');
      const all = await rows.count();
      expect(all).toBe(fx['debian-like'].os!.packages.length);
      await page.getByLabel('Search packages').fill('postgres');
      await page.locator(`tr[data-package="${PLANTED}"]`).waitFor();
      await expect.poll(() => rows.count()).toBeLessThan(all);
      expect(await page.locator('tr[data-package="bash"]').count()).toBe(0);

      // debian-like is the tidy guest: sshd locked down, nftables on, AppArmor on.
      const severities = await page
        .locator('#security [data-severity]')
        .evaluateAll((l) => l.map((x) => x.getAttribute('data-severity')));
      expect(severities).toEqual(['info']);
      expect(await page.locator('#storage').textContent()).toContain('/etc/fstab');
      await shot('report-1280');
      await page.setViewportSize({ width: 400, height: 800 });
      await shot('report-400');
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(400);
      await page.setViewportSize({ width: 1280, height: 800 });
    },
    LONG,
  );

  it(
    'shows every root of a two-OS disk (multi-os), each with its own OS, filesystems and packages',
    async () => {
      const done = await tw.worker.waitFor(ids.multi);
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      await page.goto(`${base}/#/jobs/${ids.multi}/report`);
      const picker = page.getByRole('group', { name: 'Operating systems on this disk' });
      const buttons = picker.getByRole('button');
      await expect.poll(() => buttons.count()).toBe(2);
      for (const [i, os] of fx['multi-os'].facts.oses.entries()) {
        const button = buttons.nth(i);
        expect(await button.getAttribute('data-root')).toBe(os.root);
        await button.click();
        await expect.poll(() => button.getAttribute('aria-pressed')).toBe('true');
        await page.locator(`.root-view[data-root="${os.root}"]`).waitFor();
        const card = await page.locator('#os').textContent();
        expect(card).toContain(os.hostname);
        expect(card).toContain(os.distro);
        const packages = await page
          .locator('table.packages tbody tr')
          .evaluateAll((r) => r.map((x) => x.getAttribute('data-package')));
        expect(packages).toEqual(os.packages.map((p) => p.name).sort());
        const storage = await page.locator('#storage').textContent();
        for (const f of os.filesystems) expect(storage).toContain(f.uuid);
        for (const e of os.fstab) expect(storage).toContain(e.spec);
        await shot(`report-multi-os-${i + 1}-1280`);
      }
    },
    LONG,
  );

  it(
    'shows a real comparison side by side',
    async () => {
      const done = await tw.worker.waitFor(ids.compare);
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      await page.goto(`${base}/#/jobs/${ids.compare}/compare`);
      await page.getByRole('heading', { name: 'Comparison' }).waitFor();
      expect(await page.locator('[data-side="baseline"]').textContent()).toContain('rocky');
      expect(await page.locator('[data-side="target"]').textContent()).toContain('debian');
      const rhel = new Set(fx['rhel-like'].os!.packages.map((p) => p.name));
      const added = fx['debian-like-updated'].os!.packages.find((p) => !rhel.has(p.name))!.name;
      await page.locator(`.add-list [data-package="${added}"]`).waitFor();
      await shot('compare-1280');
    },
    LONG,
  );
});

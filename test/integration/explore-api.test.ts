// Explore sessions over the real HTTP API (buildApi listening on loopback, bearer auth) on a real
// appliance: open, ls/stat/read/find/grep/checksum, a streamed download with Range, the error
// envelope, images outside the allowed roots refused, and idle expiry killing the appliance.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApi } from '../../src/api/app.js';
import { ExploreSessions } from '../../src/explore/sessions.js';
import { BIG, BIG_BYTES, BIG_SHA256, buildExploreImages, type ExploreImages } from '../explore/fixture.js';
import { startTestWorker, type TestWorker } from '../unit/worker-helpers.js';
import { qemuChildren } from './qemu-children.js';

const TOKEN = 'explore-test-token-7c1d';
let dir: string;
let images: ExploreImages;
let tw: TestWorker;
let sessions: ExploreSessions;
let app: FastifyInstance;
let base: string;
let id: string;

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) },
  });
const json = async (path: string, init?: RequestInit) => {
  const r = await api(path, init);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> & { [k: string]: never } };
};
const open = (image: Record<string, unknown>) =>
  json('/api/v1/explore', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image }),
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'explore-api-'));
  images = await buildExploreImages(dir);
  tw = await startTestWorker({ allowedRoots: [dir] });
  sessions = new ExploreSessions({ config: tw.worker.config, maxSessions: 1, ttlMs: 600_000 });
  app = await buildApi(tw.worker, { token: TOKEN, explore: sessions });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  const r = await open({ path: images.os, format: 'raw' });
  expect(r.status).toBe(201);
  id = r.body.id as string;
});
afterAll(async () => {
  await app?.close();
  await sessions?.closeAll();
  await tw?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('explore over REST', () => {
  it('needs the token, like every route', async () => {
    const r = await fetch(`${base}/api/v1/explore/${id}/ls?path=/`);
    expect(r.status).toBe(401);
  });

  it('lists, stats, reads (text and base64), finds, greps and checksums', async () => {
    const ls = await json(`/api/v1/explore/${id}/ls?path=/srv/many&limit=10&offset=5`);
    expect(ls.status).toBe(200);
    expect(ls.body).toMatchObject({ path: '/srv/many', total: 300, offset: 5, limit: 10 });
    expect((ls.body.entries as unknown as { name: string }[])[0].name).toBe('file-0005.txt');
    const st = await json(`/api/v1/explore/${id}/stat?path=/home/alice/shadow-link`);
    expect(st.body).toMatchObject({ type: 'symlink', target: '/etc/shadow' });
    const text = await json(`/api/v1/explore/${id}/read?path=/etc/os-release&offset=0&length=200`);
    expect(text.body).toMatchObject({ encoding: 'utf8', binary: false });
    expect(text.body.content).toContain('NAME="Debian GNU/Linux"');
    const bin = await json(`/api/v1/explore/${id}/read?path=/srv/data/big.bin&offset=100&length=16`);
    expect(bin.body).toMatchObject({ encoding: 'base64', binary: true, length: 16 });
    expect(Buffer.from(bin.body.content as unknown as string, 'base64').equals(BIG.subarray(100, 116))).toBe(
      true,
    );
    const find = await json(`/api/v1/explore/${id}/find?path=/var/log&glob=${encodeURIComponent('*.log')}`);
    expect((find.body.matches as unknown as string[]).sort()).toEqual([
      '/var/log/app/api.log',
      '/var/log/app/worker.log',
      '/var/log/syslog.log',
    ]);
    const grep = await json(`/api/v1/explore/${id}/grep?path=/srv/many&pattern=needle&max=7`);
    expect(grep.body).toMatchObject({ truncated: true, stoppedBy: 'matches' });
    expect(grep.body.matches).toHaveLength(7);
    const sum = await json(`/api/v1/explore/${id}/checksum?path=/srv/data/big.bin`);
    expect(sum.body.checksum).toBe(BIG_SHA256);
  });

  it('streams a download with Content-Disposition, and answers Range with 206', async () => {
    const r = await api(`/api/v1/explore/${id}/download?path=/srv/data/big.bin`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toContain('filename="big.bin"');
    expect(Number(r.headers.get('content-length'))).toBe(BIG_BYTES);
    const h = createHash('sha256');
    for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) h.update(c);
    expect(h.digest('hex')).toBe(BIG_SHA256);
    const part = await api(`/api/v1/explore/${id}/download?path=/srv/data/big.bin`, {
      headers: { range: 'bytes=1000-1999' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${BIG_BYTES}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(BIG.subarray(1000, 2000))).toBe(true);
    const bad = await api(`/api/v1/explore/${id}/download?path=/srv/data/big.bin`, {
      headers: { range: `bytes=${BIG_BYTES + 5}-` },
    });
    expect(bad.status).toBe(416);
  });

  it('answers errors in the envelope with codes', async () => {
    expect(await json(`/api/v1/explore/${id}/stat?path=/no/such`)).toMatchObject({
      status: 404,
      body: { error: 'FILE_NOT_FOUND' },
    });
    expect(await json(`/api/v1/explore/${id}/read?path=/etc`)).toMatchObject({
      status: 400,
      body: { error: 'IS_A_DIRECTORY' },
    });
    expect(
      await json(`/api/v1/explore/${id}/grep?path=/srv&pattern=${encodeURIComponent('(x')}`),
    ).toMatchObject({
      status: 400,
      body: { error: 'VALIDATION_ERROR' },
    });
    expect(await json(`/api/v1/explore/01ARZ3NDEKTSV4RRFFQ69G5FAV/ls?path=/`)).toMatchObject({
      status: 404,
      body: { error: 'NOT_FOUND' },
    });
  });

  it('refuses images outside the allowed roots, and a session over the maximum', async () => {
    expect(await open({ path: '/etc/hostname', format: 'raw' })).toMatchObject({
      status: 403,
      body: { error: 'PATH_NOT_ALLOWED' },
    });
    expect(await open({ path: join(dir, '../../etc/passwd') })).toMatchObject({
      status: 403,
      body: { error: 'PATH_NOT_ALLOWED' },
    });
    expect(await open({ path: images.noOs, format: 'raw' })).toMatchObject({
      status: 503,
      body: { error: 'WORKER_UNAVAILABLE' },
    });
    expect(await open({})).toMatchObject({ status: 400, body: { error: 'VALIDATION_ERROR' } });
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await json('/openapi.json')).body as unknown as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/explore',
        '/api/v1/explore/{id}/ls',
        '/api/v1/explore/{id}/download',
        '/api/v1/explore/{id}/grep',
      ]),
    );
  });

  it('closes with DELETE (the appliance killed), and an idle session expires after its TTL with no qemu left', async () => {
    expect(await json(`/api/v1/explore/${id}`, { method: 'DELETE' })).toMatchObject({
      status: 200,
      body: { closed: true },
    });
    await vi.waitFor(() => expect(sessions.appliances()).toBe(0), { timeout: 60_000, interval: 100 });
    expect(await json(`/api/v1/explore/${id}/ls?path=/`)).toMatchObject({ status: 404 });

    const short = new ExploreSessions({ config: tw.worker.config, ttlMs: 300 });
    try {
      const closed = new Promise<string>((r) => short.once('closed', (_id, reason) => r(reason)));
      const s = await short.open({ path: images.noOs, format: 'raw' });
      expect(short.appliances()).toBe(1);
      expect(qemuChildren().length).toBeGreaterThan(0);
      expect(await closed).toBe('expired');
      expect(() => short.get(s.id)).toThrow(/closed or expired/);
      await vi.waitFor(() => expect(short.appliances()).toBe(0), { timeout: 60_000, interval: 100 });
      expect(qemuChildren()).toEqual([]);
    } finally {
      await short.closeAll();
    }
  });
});

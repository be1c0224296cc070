// Issue #14: /metrics listened on 0.0.0.0 with no auth. It now follows the API's bind policy
// (loopback without a token unless --insecure-no-auth) and can require the API token. The real
// metrics server on a socket, a real worker (SQLite in memory).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerHandle } from '../../src/api/index.js';
import { configFromFlags } from '../../src/cli/commands/daemon.js';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { startMetrics } from '../../src/metrics/index.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

describe('metrics bind policy', () => {
  it('loopback without a token; a public address needs a token or --insecure-no-auth (low-med)', () => {
    expect(resolveConfig({}, {}).metrics).toMatchObject({ host: '127.0.0.1', port: 9090 });
    expect(() => configFromFlags({ metricsAddr: '0.0.0.0:9090' }, {})).toThrow(
      /Refusing to serve metrics on 0.0.0.0:9090 without a token.*--insecure-no-auth/,
    );
    expect(() => resolveConfig({}, { GUESTKIT_METRICS_ADDR: '10.1.2.3:9090' })).toThrow(/metrics/);
    expect(configFromFlags({ metricsAddr: '127.0.0.1:9191' }, {}).metrics.port).toBe(9191);
    expect(configFromFlags({ metricsAddr: '0.0.0.0:9090', insecureNoAuth: true }, {}).metrics.host).toBe(
      '0.0.0.0',
    );
    // A token protects the API: the metrics may then listen everywhere, as deployments ask.
    expect(resolveConfig({}, { GUESTKIT_API_TOKEN: 't' }).metrics).toMatchObject({ host: '0.0.0.0' });
    expect(() => resolveConfig({}, { GUESTKIT_METRICS_REQUIRE_TOKEN: '1' })).toThrow(/needs the API token/);
  });
});

describe('--metrics-require-token', () => {
  let worker: LocalWorker;
  let server: ServerHandle;
  let base: string;
  beforeAll(async () => {
    const config = resolveConfig(
      { store: 'memory', metrics: { addr: '127.0.0.1:0', requireToken: true }, api: { token: 's3cret' } },
      {},
    );
    worker = createWorker(config);
    await worker.start();
    server = (await startMetrics(worker, config, silentLogger(), { defaultMetrics: false }))!;
    base = `http://${server.address}`;
  });
  afterAll(async () => {
    await server?.close();
    await worker?.stop({ drainTimeoutMs: 0 });
  });

  it('/metrics answers 401 without the token or with a wrong one, 200 with it; /health stays open', async () => {
    const none = await fetch(`${base}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as { error: string }).error).toBe('UNAUTHORIZED');
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer s3cret' } });
    expect(right.status).toBe(200);
    expect(await right.text()).toMatch(/guestkit_/);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromFlags, parseDuration } from '../../src/cli/commands/daemon.js';
import { parseAddress, resolveConfig } from '../../src/config.js';

describe('config', () => {
  it('defaults follow interfaces.md', () => {
    const c = resolveConfig({}, {});
    expect(c.workerId).toMatch(/^worker-[0-9A-Z]{26}$/);
    expect(c).toMatchObject({
      pool: 'default',
      jobsDir: resolve('./jobs'),
      resultsDir: resolve('./results'),
      maxConcurrent: 4,
      transport: 'file',
      role: 'all',
      redisUrl: 'redis://127.0.0.1:6379',
      drainTimeoutMs: 30_000,
      store: 'sqlite',
      retentionSeconds: null,
    });
    expect(c.metrics).toEqual({ enabled: true, addr: '0.0.0.0:9090', host: '0.0.0.0', port: 9090 });
    expect(c.api).toMatchObject({ enabled: true, host: '0.0.0.0', port: 8080, token: undefined });
    expect(c.allowedRoots).toEqual([process.cwd(), c.jobsDir, c.resultsDir, c.workDir]);
  });

  it('GUESTKIT_FAST_INSPECTION is the one fast-inspection switch (default on, 0 off, junk refused)', () => {
    expect(resolveConfig({}, {}).fastInspection).toBe(true);
    expect(resolveConfig({}, { GUESTKIT_FAST_INSPECTION: '0' }).fastInspection).toBe(false);
    expect(resolveConfig({ fastInspection: true }, { GUESTKIT_FAST_INSPECTION: '0' }).fastInspection).toBe(
      true,
    );
    expect(() => resolveConfig({}, { GUESTKIT_FAST_INSPECTION: 'maybe' })).toThrow(
      /GUESTKIT_FAST_INSPECTION/,
    );
  });

  it('environment fills what flags leave out; flags win', () => {
    const env = {
      GUESTKIT_WORKER_ID: 'worker-env',
      GUESTKIT_JOBS_DIR: '/tmp/env-jobs',
      GUESTKIT_API_TOKEN: 'secret',
      QUEUE_URL: 'redis://redis:6379',
      GUESTKIT_MAX_CONCURRENT: '8',
    };
    const fromEnv = configFromFlags({}, env);
    expect(fromEnv).toMatchObject({ workerId: 'worker-env', jobsDir: '/tmp/env-jobs', maxConcurrent: 8 });
    expect(fromEnv.api.token).toBe('secret');
    expect(fromEnv.redisUrl).toBe('redis://redis:6379');
    const flags = configFromFlags(
      {
        workerId: 'worker-flag',
        jobsDir: '/tmp/flag-jobs',
        maxConcurrent: '2',
        metricsEnabled: 'false',
        apiAddr: '127.0.0.1:18080',
        allowedRoots: '/vms,/data',
        drainTimeout: '1500ms',
        retention: '7m',
        once: true,
      },
      env,
    );
    expect(flags).toMatchObject({
      workerId: 'worker-flag',
      jobsDir: '/tmp/flag-jobs',
      maxConcurrent: 2,
      allowedRoots: ['/vms', '/data'],
      drainTimeoutMs: 1500,
      retentionSeconds: 420,
      once: true,
    });
    expect(flags.metrics.enabled).toBe(false);
    expect(flags.api).toMatchObject({ host: '127.0.0.1', port: 18080 });
  });

  it.each([
    [{ maxConcurrent: '0' }, /Invalid max concurrent jobs: 0/],
    [{ maxConcurrent: 'x' }, /Invalid max concurrent jobs 'x'/],
    [{ metricsEnabled: 'maybe' }, /Invalid metrics enabled flag 'maybe'/],
    [{ apiAddr: 'localhost' }, /Invalid API address 'localhost'/],
    [{ transport: 'carrier-pigeon' }, /Invalid transport 'carrier-pigeon'/],
    [{ drainTimeout: 'soon' }, /Invalid drain timeout 'soon'/],
  ])('bad flag %j → VALIDATION_ERROR', (flags, message) => {
    expect(() => configFromFlags(flags, {})).toThrow(message);
  });

  it('parses durations and addresses', () => {
    expect([parseDuration('30', 'x'), parseDuration('30s', 'x'), parseDuration('2m', 'x')]).toEqual([
      30_000, 30_000, 120_000,
    ]);
    expect(parseAddress(':9090', 'm')).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(parseAddress('[::1]:80', 'm')).toEqual({ host: '::1', port: 80 });
    expect(() => parseAddress('h:99999', 'm')).toThrow(/Invalid m address/);
  });
});

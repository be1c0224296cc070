import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromFlags, parseDuration } from '../../src/cli/commands/daemon.js';
import {
  clientSettingsFromEnv,
  guestfsOptionsFromEnv,
  parseAddress,
  qemuImgFromEnv,
  resolveConfig,
} from '../../src/config.js';

const ROOT = join(import.meta.dirname, '../..');

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
    // #14: the metrics follow the API's bind policy (loopback without a token).
    expect(c.metrics).toEqual({
      enabled: true,
      addr: '127.0.0.1:9090',
      host: '127.0.0.1',
      port: 9090,
      requireToken: false,
    });
    // No token: loopback only (the bind policy); every address once a token is set.
    expect(c.api).toMatchObject({ enabled: true, host: '127.0.0.1', port: 8080, token: undefined });
    expect(resolveConfig({}, { GUESTKIT_API_TOKEN: 't' }).api).toMatchObject({ host: '0.0.0.0', port: 8080 });
    // #14: not the working directory (it holds ./state), not the results folder (a forged result).
    expect(c.allowedRoots).toEqual([c.jobsDir, c.workDir]);
  });

  it('GUESTKIT_FAST_INSPECTION is the one fast-inspection switch (default on, 0 off, junk refused)', () => {
    expect(resolveConfig({}, {}).appliance.fastInspection).toBe(true);
    expect(resolveConfig({}, { GUESTKIT_FAST_INSPECTION: '0' }).appliance.fastInspection).toBe(false);
    expect(
      resolveConfig({ appliance: { fastInspection: true } }, { GUESTKIT_FAST_INSPECTION: '0' }).appliance
        .fastInspection,
    ).toBe(true);
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

  it.each(['true', '1', 'yes', 'on', 'TRUE', ' Yes '])('boolean %j is true', (v) => {
    expect(resolveConfig({}, { GUESTKIT_APPLIANCE_SHARING: v }).appliance.sharing).toBe(true);
    expect(resolveConfig({}, { GUESTKIT_METRICS_ENABLED: v }).metrics.enabled).toBe(true);
  });

  it.each(['false', '0', 'no', 'off', 'FALSE'])(
    'boolean %j is false (sharing off is tenant isolation)',
    (v) => {
      const c = resolveConfig({}, { GUESTKIT_APPLIANCE_SHARING: v, GUESTKIT_FAST_INSPECTION: v });
      expect(c.appliance).toMatchObject({ sharing: false, fastInspection: false });
      expect(resolveConfig({}, { GUESTKIT_API_ENABLED: v }).api.enabled).toBe(false);
    },
  );

  it('reads every worker variable into one configuration', () => {
    const c = resolveConfig(
      {},
      {
        GUESTKIT_WORKER_POOL: 'gpu',
        GUESTKIT_WORK_DIR: '/tmp/w',
        GUESTKIT_STATE_DIR: '/tmp/s',
        GUESTKIT_STORE: 'memory',
        GUESTKIT_LOG_LEVEL: 'warn',
        GUESTKIT_LOG_FORMAT: 'pretty',
        GUESTKIT_METRICS_ADDR: '127.0.0.1:9999',
        GUESTKIT_API_ADDR: '127.0.0.1:8888',
        GUESTKIT_API_RATE_LIMIT: '120',
        GUESTKIT_TRANSPORT: 'redis',
        GUESTKIT_REDIS_URL: 'redis://r:1',
        GUESTKIT_ROLE: 'worker',
        GUESTKIT_ALLOWED_ROOTS: '/a, /b,',
        GUESTKIT_DRAIN_TIMEOUT_MS: '500',
        GUESTKIT_MAX_DISK_SIZE_GB: '10',
        GUESTKIT_RETENTION_SECONDS: '3600',
        GUESTKIT_ORPHAN_MIN_AGE_MS: '0',
        GUESTKIT_REDIS_PREFIX: 'gk',
        GUESTKIT_REDIS_STALL_MS: '2000',
        GUESTKIT_REDIS_HEARTBEAT_MS: '200',
        GUESTKIT_REDIS_RELEASE_MS: '50',
        GUESTKIT_REDIS_QUEUE_STATS_MS: '300',
        GUESTKIT_REDIS_START_HOLD_MS: '0',
        GUESTKIT_APPLIANCES: '3',
        GUESTKIT_APPLIANCE_DRIVES: '4',
        GUESTKIT_APPLIANCE_BATCH_MS: '0',
        GUESTKIT_APPLIANCE_LINGER_MS: '100',
        GUESTKIT_KVM: 'yes',
        GUESTKIT_QEMU_IMG: '/opt/qemu-img',
      },
    );
    expect(c).toMatchObject({
      pool: 'gpu',
      workDir: '/tmp/w',
      stateDir: '/tmp/s',
      store: 'memory',
      logLevel: 'warn',
      logFormat: 'pretty',
      transport: 'redis',
      redisUrl: 'redis://r:1',
      role: 'worker',
      allowedRoots: ['/a', '/b'],
      drainTimeoutMs: 500,
      maxDiskSizeGb: 10,
      retentionSeconds: 3600,
      orphanMinAgeMs: 0,
      qemuImg: '/opt/qemu-img',
      redis: {
        prefix: 'gk:',
        stallMs: 2000,
        heartbeatMs: 200,
        releaseDelayMs: 50,
        queueStatsMs: 300,
        startHoldMs: 0,
      },
      appliance: {
        maxAppliances: 3,
        maxDrivesPerAppliance: 4,
        batchWindowMs: 0,
        reservationLingerMs: 100,
        sharing: true,
        fastInspection: true,
      },
    });
    expect(c.metrics).toMatchObject({ host: '127.0.0.1', port: 9999 });
    expect(c.api).toMatchObject({ host: '127.0.0.1', port: 8888, rateLimit: 120 });
    expect(c.guestfs.backendSettings).toEqual([]);
    // Unset: the pool's own defaults apply; TCG without GUESTKIT_KVM.
    const d = resolveConfig({}, {});
    expect(d.appliance).toEqual({ sharing: true, fastInspection: true });
    expect(d.api.rateLimit).toBeNull();
    expect(d.guestfs).toEqual({ backendSettings: ['force_tcg'], verbose: false, trace: false });
    expect(d.redis).toEqual({
      prefix: 'guestkit:',
      stallMs: 30_000,
      heartbeatMs: 5000,
      releaseDelayMs: 2000,
      queueStatsMs: 2000,
      startHoldMs: 50,
    });
  });

  it('the client, qemu-img and libguestfs settings share the policy', () => {
    expect(clientSettingsFromEnv({ GUESTKIT_WORKER_API_URL: 'http://w:1', GUESTKIT_API_TOKEN: '' })).toEqual({
      baseUrl: 'http://w:1',
      token: undefined,
    });
    expect(qemuImgFromEnv({})).toBe('qemu-img');
    expect(guestfsOptionsFromEnv({ LIBGUESTFS_DEBUG: '1', LIBGUESTFS_CACHEDIR: '/c' })).toMatchObject({
      verbose: true,
      cachedir: '/c',
    });
    expect(() => guestfsOptionsFromEnv({ GUESTKIT_KVM: 'sometimes' })).toThrow(/GUESTKIT_KVM 'sometimes'/);
  });

  it.each([
    ['GUESTKIT_APPLIANCE_SHARING', 'maybe'],
    ['GUESTKIT_FAST_INSPECTION', 'nah'],
    ['GUESTKIT_METRICS_ENABLED', '2'],
    ['GUESTKIT_MAX_CONCURRENT', 'four'],
    ['GUESTKIT_MAX_CONCURRENT', '0'],
    ['GUESTKIT_APPLIANCES', '-1'],
    ['GUESTKIT_APPLIANCE_DRIVES', '1.5'],
    ['GUESTKIT_APPLIANCE_BATCH_MS', '300ms'],
    ['GUESTKIT_DRAIN_TIMEOUT_MS', 'soon'],
    ['GUESTKIT_RETENTION_SECONDS', '1h'],
    ['GUESTKIT_API_RATE_LIMIT', 'lots'],
    ['GUESTKIT_ORPHAN_MIN_AGE_MS', 'x'],
    ['GUESTKIT_REDIS_STALL_MS', '10'],
    ['GUESTKIT_REDIS_PREFIX', 'a b'],
    ['GUESTKIT_TRANSPORT', 'pigeon'],
    ['GUESTKIT_STORE', 'postgres'],
    ['GUESTKIT_ROLE', 'boss'],
    ['GUESTKIT_LOG_LEVEL', 'loud'],
    ['GUESTKIT_LOG_FORMAT', 'xml'],
    ['GUESTKIT_API_ADDR', 'localhost'],
  ])('bad %s=%j is a VALIDATION_ERROR naming the variable', (name, value) => {
    expect(() => resolveConfig({}, { [name]: value })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR' }),
    );
    expect(() => resolveConfig({}, { [name]: value })).toThrow(name);
  });

  it('the daemon refuses an allowed root containing its state folder unless told (#14)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-roots-'));
    try {
      const flags = { stateDir: join(dir, 'state'), allowedRoots: dir };
      expect(() => configFromFlags(flags, {})).toThrow(
        expect.objectContaining({
          code: 'VALIDATION_ERROR',
          message: expect.stringMatching(/contains the worker's state folder.*--allow-root-over-state/),
        }),
      );
      // The root is the state folder itself, or reached through a symlink: the same.
      symlinkSync(dir, join(dir, 'link'));
      expect(() => configFromFlags({ ...flags, allowedRoots: join(dir, 'link', 'state') }, {})).toThrow(
        /contains the worker's state folder/,
      );
      expect(configFromFlags({ ...flags, allowRootOverState: true }, {}).allowedRoots).toEqual([dir]);
      expect(configFromFlags(flags, { GUESTKIT_ALLOW_ROOT_OVER_STATE: '1' }).allowRootOverState).toBe(true);
      // The defaults (jobs and work folders) never contain ./state.
      expect(() => configFromFlags({ stateDir: join(dir, 'state') }, {})).not.toThrow();
      expect(() =>
        configFromFlags({ stateDir: join(dir, 'state'), allowedRoots: `${dir}/jobs` }, {}),
      ).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the daemon stops at start on a bad variable, naming it', async () => {
    const out = await new Promise<{ code: number | null; stderr: string }>((done) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'daemon', '--once'],
        {
          cwd: ROOT,
          env: { ...process.env, GUESTKIT_APPLIANCE_SHARING: 'maybe' },
          timeout: 60_000,
        },
        (err, _stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/Invalid GUESTKIT_APPLIANCE_SHARING 'maybe'/);
  });

  it('lib/ reads no environment (it takes options)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.tsx?$/.test(e.name) && readFileSync(p, 'utf8').includes('process.env')) offenders.push(p);
      }
    };
    walk(join(ROOT, 'lib'));
    expect(offenders).toEqual([]);
  });
});

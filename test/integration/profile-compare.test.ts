// guestkit.profile and guestkit.compare on the real appliance pool through a real worker (SQLite
// store, shared pool). Every job is submitted at once so the pool batches their drives.
// Appliance launches: at most 4 for the whole file (the batch split over the pool's parallel slots,
// plus solo launches for drives that cannot share: debian-like twice — profile and compare
// baseline — are clones, and ubuntu-like's fstab names /dev/sda).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { closeSharedAppliancePool, getSharedAppliancePool } from '../../lib/appliance/index.js';
import { compareHandler } from '../../src/handlers/compare/index.js';
import type { ComparisonReport } from '../../src/handlers/compare/types.js';
import { profileHandler } from '../../src/handlers/profile/index.js';
import type { ProfileReport } from '../../src/handlers/profile/types.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/metrics/registry.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { DEBIAN_UPDATE_CHANGES } from '../fixtures/variants.js';
import { expectedFindingIds, SEVERITY_OF } from '../unit/profile-expected.js';
import { sample } from './api-helpers.js';
import { job as makeJob, startTestWorker, type TestWorker } from '../unit/worker-helpers.js';

const MAX_LAUNCHES = 4;

let tw: TestWorker;
let metrics: WorkerMetrics;
const fx: Record<string, Fixture> = {};
const results = new Map<string, ResultDocument>();
let elapsed = 0;
const out = (name: string) => join(tw.dir, name);

interface ProfileData {
  status: string;
  output_file: string | null;
  report: ProfileReport;
}

const job = (operation: string, data: unknown) => makeJob(operation, data, (b) => b.timeout(900));

const JOBS = {
  ubuntu: () =>
    job('guestkit.profile', {
      image: { path: fx['ubuntu-like'].path, format: 'raw' },
      output: { format: 'json', destination: out('ubuntu.json') },
    }),
  rhel: () =>
    job('guestkit.profile', {
      image: { path: fx['rhel-like'].path, format: 'qcow2' },
      profiles: ['security', 'compliance', 'hardening', 'performance', 'migration'],
      output: { format: 'yaml', destination: out('rhel.yaml'), include_remediation: false },
    }),
  permissive: () =>
    job('guestkit.profile', {
      image: { path: fx['rhel-like-permissive'].path, format: 'raw' },
      profiles: ['compliance', 'performance', 'migration'],
    }),
  debian: () =>
    job('guestkit.profile', {
      image: { path: fx['debian-like'].path },
      options: { severity_threshold: 'info', fail_on_critical: true },
    }),
  multiFail: () =>
    job('guestkit.profile', {
      image: { path: fx['multi-os'].path, format: 'raw' },
      profiles: ['security', 'compliance'],
      options: { severity_threshold: 'high', fail_on_critical: true },
      output: { format: 'json', destination: out('multi.json') },
    }),
  noOs: () => job('guestkit.profile', { image: { path: fx.garbage.path, format: 'raw' } }),
  badChecksum: () =>
    job('guestkit.compare', {
      baseline: { path: fx.garbage.path, format: 'raw' },
      target: { path: fx.garbage.path, format: 'raw', checksum: `sha256:${'0'.repeat(64)}` },
    }),
  badDestination: () =>
    job('guestkit.profile', {
      image: { path: fx['ubuntu-like'].path },
      output: { destination: '/etc/guestkit-profile.json' },
    }),
  compare: () =>
    job('guestkit.compare', {
      baseline: { path: fx['debian-like'].path, format: 'raw' },
      target: { path: fx['debian-like-updated'].path, format: 'qcow2' },
      options: { compare_packages: true, compare_files: true, compare_config: true, ignore_timestamps: true },
      recommendations: true,
      output: { format: 'json', destination: out('compare.json') },
    }),
};

beforeAll(async () => {
  const names = [
    'debian-like',
    'ubuntu-like',
    'rhel-like',
    'rhel-like-permissive',
    'multi-os',
    'debian-like-updated',
    'garbage',
  ] as const;
  for (const f of await getFixtures(names)) {
    fx[f.name] = f;
  }
  tw = await startTestWorker(
    // An appliance waits for the jobs that reserved a place in it however loaded the machine is
    // (the 2 s default gives up on a slow claim and launches again): the launch count stays known.
    { maxConcurrent: 8, appliance: { reservationLingerMs: 120_000 } },
    new HandlerRegistry().register(profileHandler).register(compareHandler),
  );
  metrics = createWorkerMetrics(tw.worker);
  const started = Date.now();
  const ids = new Map<string, string>();
  for (const [name, make] of Object.entries(JOBS)) {
    const env = make();
    await tw.worker.submit(env);
    ids.set(name, env.job_id);
  }
  for (const [name, id] of ids) {
    await tw.worker.waitFor(id);
    results.set(name, (await tw.worker.result(id)) as ResultDocument);
  }
  elapsed = Date.now() - started;
  for (const [name, r] of results)
    console.info(`${name}: ${r.status} in ${r.execution_summary.duration_seconds.toFixed(1)} s`);
}, 1_200_000);

afterAll(async () => {
  const { launches, launchFailures } = getSharedAppliancePool().status();
  // The appliance metrics saw the real launches; /health names the accelerator and the cache.
  const text = await metrics.metrics();
  expect(sample(text, 'guestkit_appliance_launches_total', { result: 'ok' })).toBe(launches - launchFailures);
  expect(sample(text, 'guestkit_appliance_boot_seconds_count')).toBe(launches - launchFailures);
  expect(sample(text, 'guestkit_appliance_boot_seconds_sum')).toBeGreaterThan(0);
  const appliance = (await tw.worker.health()).checks.appliance;
  expect(appliance.details).toMatchObject({ accelerator: 'tcg' });
  expect(appliance.details?.cache_built).toMatch(/^\d{4}-/);
  metrics.close();
  console.info(`profile/compare: ${results.size} jobs, ${launches} appliance launch(es), ${elapsed} ms`);
  await tw?.cleanup();
  await closeSharedAppliancePool();
  // Leaked appliances would be children of this process.
  const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter((l) => /qemu/.test(l));
  expect(children).toEqual([]);
  expect(launches).toBeGreaterThan(0);
  expect(launches).toBeLessThanOrEqual(MAX_LAUNCHES);
});

const profileData = (name: string): ProfileData => {
  const r = results.get(name)!;
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
  return r.data as ProfileData;
};
const idsOf = (report: ProfileReport, root?: string) =>
  [...new Set(report.findings.filter((f) => root === undefined || f.root === root).map((f) => f.id))].sort();

describe('guestkit.profile on real disks', () => {
  it('ubuntu-like (neglected): exactly the planted findings, report written as JSON', () => {
    const data = profileData('ubuntu');
    expect(idsOf(data.report)).toEqual(expectedFindingIds(fx['ubuntu-like'].os!));
    expect(data.output_file).toBe(out('ubuntu.json'));
    expect(JSON.parse(readFileSync(out('ubuntu.json'), 'utf8'))).toEqual(data.report);
    const byId = new Map(data.report.findings.map((f) => [f.id, f]));
    expect(byId.get('SEC-ACCT-001')?.evidence.accounts).toEqual(['guest']);
    expect(byId.get('SEC-ACCT-002')?.evidence.accounts).toEqual(['toor']);
    expect(byId.get('SEC-FILE-001')?.evidence.files).toEqual(['/etc/app.env']);
    expect(byId.get('HARD-TMP-001')?.evidence.mode).toBe('0777');
    expect(byId.get('HARD-SVC-001')?.evidence.services).toEqual(['vsftpd.service']);
    expect(byId.get('COMP-PASS-001')?.evidence.PASS_MAX_DAYS).toBe(99999);
    expect(data.report.summary.total_findings).toBe(data.report.findings.length);
    expect(data.report.profiles).toEqual(['security', 'compliance', 'hardening', 'performance', 'migration']);
    expect(data.report.image).toMatchObject({ path: fx['ubuntu-like'].path, format: 'raw' });
  });

  it('rhel-like: SELinux disabled, VMware tools, no tuned finding; YAML without remediation', () => {
    const data = profileData('rhel');
    expect(idsOf(data.report)).toEqual(expectedFindingIds(fx['rhel-like'].os!));
    const file = parseYaml(readFileSync(out('rhel.yaml'), 'utf8')) as ProfileReport;
    expect(file.findings.map((f) => f.id)).toEqual(data.report.findings.map((f) => f.id));
    expect(data.report.findings.every((f) => f.remediation === undefined)).toBe(true);
    expect(data.report.findings.find((f) => f.id === 'COMP-SELINUX-001')?.references).toEqual([
      'PCI-DSS-2.2.4',
      'CIS-1.6.1.1',
    ]);
  });

  it('rhel-like-permissive: permissive SELinux, idle auditd, 42 services, tiny swap file, initramfs without virtio', () => {
    const data = profileData('permissive');
    const expected = expectedFindingIds(fx['rhel-like-permissive'].os!).filter((id) =>
      /^(COMP|PERF|MIG)-/.test(id),
    );
    expect(idsOf(data.report)).toEqual(expected);
    const byId = new Map(data.report.findings.map((f) => [f.id, f]));
    expect(byId.get('COMP-SELINUX-002')).toMatchObject({
      severity: 'medium',
      evidence: { SELINUX: 'permissive' },
    });
    expect(byId.get('PERF-SVC-001')?.evidence.enabled_count).toBe(42);
    expect(byId.get('PERF-SWAP-002')).toMatchObject({
      evidence: { swap: ['/swapfile'], swap_bytes: 256 * 1024 },
    });
    // Listed from the real gzip'd cpio by libguestfs: only the old kernel's initramfs lacks virtio.
    expect(byId.get('MIG-VIRTIO-002')?.evidence.initramfs).toEqual([
      '/boot/initramfs-5.14.0-284.11.1.el9_2.x86_64.img',
    ]);
    expect(byId.get('MIG-TOOLS-001')?.evidence.tools).toEqual(['hyperv-daemons']);
    expect(data.report.warnings).toEqual([]);
  });

  it('debian-like (well kept): none of the security/compliance/hardening checks fire; no critical, so fail_on_critical passes', () => {
    const data = profileData('debian');
    expect(idsOf(data.report)).toEqual(expectedFindingIds(fx['debian-like'].os!));
    expect(
      data.report.findings.filter((f) => ['security', 'compliance', 'hardening'].includes(f.profile)),
    ).toEqual([]);
    expect(data.output_file).toBeNull();
  });

  it('multi-os with threshold high + fail_on_critical: failed EXECUTION_ERROR, report still written, per-root findings', () => {
    const r = results.get('multiFail')!;
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'EXECUTION_ERROR', phase: 'result_generation' });
    expect(r.error?.message).toMatch(/critical finding/);
    const details = r.error?.details as { output_file: string; critical: string[]; report: ProfileReport };
    expect(details.output_file).toBe(out('multi.json'));
    expect(existsSync(out('multi.json'))).toBe(true);
    const written = JSON.parse(readFileSync(out('multi.json'), 'utf8')) as ProfileReport;
    expect(written).toEqual(details.report);
    expect(details.critical).toEqual(expect.arrayContaining(['SEC-ACCT-001', 'SEC-ACCT-002']));
    expect(written.findings.every((f) => f.severity === 'high' || f.severity === 'critical')).toBe(true);
    for (const os of fx['multi-os'].facts.oses) {
      const expected = expectedFindingIds(os).filter(
        (id) => ['high', 'critical'].includes(SEVERITY_OF[id]) && /^(CIS-SSH|SEC|COMP)-/.test(id),
      );
      expect(idsOf(written, os.root), os.hostname).toEqual(expected);
    }
    expect(written.operating_systems.map((o) => o.hostname).sort()).toEqual(['multi-debian', 'multi-ubuntu']);
  });
});

describe('failures', () => {
  it('an image without an OS → NO_OPERATING_SYSTEM; a wrong checksum → IMAGE_CHECKSUM_MISMATCH; a destination outside the roots → PATH_NOT_ALLOWED', () => {
    expect(results.get('noOs')?.error).toMatchObject({ code: 'NO_OPERATING_SYSTEM' });
    const mismatch = results.get('badChecksum')!;
    expect(mismatch.status).toBe('failed');
    expect(mismatch.error).toMatchObject({
      code: 'IMAGE_CHECKSUM_MISMATCH',
      phase: 'checksum',
      details: { expected: '0'.repeat(64) },
    });
    expect(results.get('badDestination')?.error).toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    expect(existsSync('/etc/guestkit-profile.json')).toBe(false);
  });
});

describe('guestkit.compare on real disks (both in one appliance)', () => {
  const data = () => {
    const r = results.get('compare')!;
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    return r.data as { output_file: string; report: ComparisonReport };
  };

  it('lists the planted package, service and user differences', () => {
    const { report } = data();
    expect(report.packages?.added.map((p) => p.name)).toEqual(DEBIAN_UPDATE_CHANGES.added);
    expect(report.packages?.removed.map((p) => p.name)).toEqual(DEBIAN_UPDATE_CHANGES.removed);
    expect(report.packages?.changed.map((p) => p.name)).toEqual(DEBIAN_UPDATE_CHANGES.changed);
    expect(report.packages?.changed.find((p) => p.name === 'libc6')).toMatchObject({
      from: '2.36-9+deb12u3',
      to: '2.36-9+deb12u4',
      direction: 'upgrade',
    });
    expect(report.services.enabled).toEqual(DEBIAN_UPDATE_CHANGES.servicesEnabled);
    expect(report.services.disabled).toEqual(DEBIAN_UPDATE_CHANGES.servicesDisabled);
    expect(report.users.added.map((u) => u.name)).toEqual(DEBIAN_UPDATE_CHANGES.usersAdded);
    expect(report.users.removed).toEqual([]);
    const os = Object.fromEntries(report.operating_system.map((c) => [c.field, c.to]));
    expect(os.product_name).toBe('12.5');
    expect(os.root).toBeUndefined();
    expect(report.security).toContainEqual({
      field: 'ssh.permit_root_login',
      from: 'no',
      to: 'prohibit-password',
    });
    expect(report.baseline.image.path).toBe(fx['debian-like'].path);
    expect(report.target.image.path).toBe(fx['debian-like-updated'].path);
  });

  it('diffs /etc by checksum with unified diffs of the small text files', () => {
    const { report } = data();
    const cfg = report.config_files!;
    expect(cfg.root).toBe('/etc');
    expect(cfg.changed.map((c) => c.path)).toEqual(
      expect.arrayContaining(DEBIAN_UPDATE_CHANGES.configChanged),
    );
    expect(cfg.added).toContain('/etc/nginx/nginx.conf');
    const sshd = cfg.changed.find((c) => c.path === '/etc/ssh/sshd_config')!;
    expect(sshd.diff).toContain('-PermitRootLogin no\n+PermitRootLogin prohibit-password\n');
    expect(
      sshd.diff?.startsWith('--- baseline/etc/ssh/sshd_config\n+++ target/etc/ssh/sshd_config\n@@ '),
    ).toBe(true);
    expect(sshd.baseline_sha256).toMatch(/^[0-9a-f]{64}$/);
    const release = cfg.changed.find((c) => c.path === '/etc/debian_version')!;
    expect(release.diff).toContain('-12.4\n+12.5\n');
    // Password hashes never reach the report.
    expect(cfg.changed.find((c) => c.path === '/etc/shadow')).toMatchObject({ diff_omitted: 'sensitive' });
    expect(JSON.stringify(report)).not.toContain('$6$');
    // Unchanged files are not listed.
    expect(cfg.changed.map((c) => c.path)).not.toContain('/etc/hostname');
    expect(cfg.compared).toBeGreaterThan(cfg.changed.length);
  });

  it('compare_files covers the whole filesystem; recommendations and the written file', () => {
    const { report, output_file } = data();
    expect(report.files?.root).toBe('/');
    expect(report.files?.changed.map((c) => c.path)).toEqual(
      expect.arrayContaining(['/var/lib/dpkg/status']),
    );
    expect(report.recommendations?.map((r) => r.category)).toEqual(
      expect.arrayContaining(['services', 'config']),
    );
    expect(report.summary.identical).toBe(false);
    expect(report.summary.packages).toEqual({ added: 1, removed: 1, changed: 3 });
    expect(JSON.parse(readFileSync(output_file, 'utf8'))).toEqual(report);
  });
});

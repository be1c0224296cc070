// The terminal renderers, one snapshot per operation's result, built from the fixture guests'
// facts (the same reports the handlers produce for those images). Plain text: no colour off a TTY.
import { describe, expect, it } from 'vitest';
import {
  colorWanted,
  renderData,
  renderError,
  renderResult,
  operationOf,
} from '../../src/cli/render/index.js';
import { diffReports } from '../../src/handlers/compare/diff-report.js';
import type { ComparisonReport } from '../../src/handlers/compare/types.js';
import { evaluateProfiles } from '../../src/handlers/profile/profiles.js';
import { osVersion } from '../../src/report/os-version.js';
import { OPERATION_NAMES } from '../../src/protocol/payloads/index.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { DEBIAN_FACTS } from '../fixtures/debian.js';
import { UBUNTU_FACTS } from '../fixtures/ubuntu.js';
import { DEBIAN_UPDATED_FACTS, MULTI_OS_FACTS } from '../fixtures/variants.js';
import { profileFactsFromFacts, reportFromFacts } from './profile-expected.js';

/** The control sequence introducer that starts every ANSI colour code. */
const ESC = String.fromCharCode(27) + '[';
const inspectData = (os = UBUNTU_FACTS) => {
  const report = reportFromFacts(os);
  return { status: 'success', output_file: null, summary: {}, report };
};

function profileData() {
  const report = evaluateProfiles(
    reportFromFacts(UBUNTU_FACTS).image,
    ['security'],
    [{ report: reportFromFacts(UBUNTU_FACTS), facts: profileFactsFromFacts(UBUNTU_FACTS) }],
    { severityThreshold: 'medium', includeRemediation: true, now: new Date('2026-01-01T00:00:00Z') },
  );
  return { status: 'success', output_file: null, summary: report.summary, report };
}

function compareData() {
  const a = reportFromFacts(DEBIAN_FACTS);
  const b = reportFromFacts(DEBIAN_UPDATED_FACTS);
  const d = diffReports(a, b);
  const report: ComparisonReport = {
    version: '1.0',
    baseline: { image: a.image, operating_system: a.operating_system },
    target: {
      image: { ...b.image, path: '/images/debian-like-updated.qcow2' },
      operating_system: b.operating_system,
    },
    summary: {
      identical: false,
      total_differences: 9,
      operating_system: d.operating_system.length,
      packages: {
        added: d.packages.added.length,
        removed: d.packages.removed.length,
        changed: d.packages.changed.length,
      },
      services: { added: 0, removed: 0, enabled: 0, disabled: 0 },
      users: { added: 0, removed: 0, changed: 0 },
      config_files: null,
    },
    ...d,
    config_files: null,
    recommendations: [
      { severity: 'medium', category: 'packages', message: 'Review the downgraded packages' },
    ],
    warnings: [],
    timestamp: '2026-01-01T00:00:00Z',
  };
  return { status: 'success', output_file: null, summary: report.summary, report };
}

const CONVERT = {
  status: 'success',
  source: {
    path: '/images/debian-like.img',
    format: 'raw',
    virtual_size_bytes: 67108864,
    allocated_size_bytes: 41943040,
    checksum_verified: true,
  },
  target: {
    path: '/images/debian-like.qcow2',
    format: 'qcow2',
    compression: true,
    compression_type: 'zstd',
    virtual_size_bytes: 67108864,
    allocated_size_bytes: 20971520,
  },
  preserve_sparse: true,
  verification: { performed: true, identical: true, message: 'Images are identical.' },
  duration_seconds: 2.4,
  qemu_img_version: '7.2.0',
};

const FIX = {
  version: '1.0',
  status: 'success',
  message: '2 operations applied, validation passed',
  phase: 'commit',
  image: { path: '/images/ubuntu-like.img', format: 'raw' },
  os: { root: '/dev/sda', distro: 'ubuntu', arch: 'x86_64', hostname: 'ubuntu-ftp01', roots: 1 },
  operations: [
    {
      type: 'ssh_harden',
      status: 'success',
      message: 'PermitRootLogin no',
      changed: true,
      duration_seconds: 0.2,
      log: [],
    },
    {
      type: 'service_disable',
      status: 'success',
      message: 'vsftpd.service already disabled',
      changed: false,
      duration_seconds: 0.1,
      log: [],
    },
  ],
  execution_policy: { stop_on_error: true, validate_before_commit: true },
  validation: { performed: true, passed: true, message: 'same OS found after the changes' },
  commit: { mode: 'fixed_image', target: '/images/ubuntu-like.fixed.qcow2', format: 'qcow2', backup: null },
  duration_seconds: 21.5,
  output_file: null,
};

const DOCTOR = {
  target: 'kubevirt',
  score: 62,
  verdict: 'needs-work',
  summary: '1 blocker, 1 warning',
  os: { type: 'linux', distribution: 'rocky', version: '9.3', root: '/dev/sda2' },
  blockers: [],
  warnings: [],
  checks: [
    {
      id: 'BOOT-001',
      category: 'boot',
      name: 'virtio drivers in the initramfs',
      passed: false,
      severity: 'blocker',
      message: 'virtio_blk missing',
      remediation: 'dracut --add-drivers virtio_blk',
      evidence: { read: ['/boot/initramfs-5.14.img'] },
    },
    {
      id: 'NET-002',
      category: 'network',
      name: 'portable NIC names',
      passed: false,
      severity: 'warning',
      message: 'ifcfg-ens192 binds a MAC',
      remediation: 'drop HWADDR',
      evidence: { read: [] },
    },
    {
      id: 'FS-001',
      category: 'storage',
      name: 'fstab by UUID',
      passed: true,
      severity: 'blocker',
      message: 'ok',
      evidence: { read: [] },
    },
  ],
};

const PLAN = {
  target: 'kubevirt',
  score: 62,
  verdict: 'needs-work',
  categories: {
    boot: { score: 40, failed: 1, checks: ['BOOT-001'] },
    network: { score: 80, failed: 1, checks: ['NET-002'] },
    storage: { score: 100, failed: 0, checks: ['FS-001'] },
  },
  steps: [
    {
      id: 'STEP-1',
      action: 'Add the target drivers to the initramfs',
      reason: 'virtio_blk missing',
      operation: { type: 'initramfs_add_drivers', drivers: ['virtio_blk'] },
      fixes: ['BOOT-001'],
      undoable: true,
    },
    {
      id: 'STEP-2',
      action: 'Drop HWADDR from /etc/sysconfig/network-scripts/ifcfg-ens192',
      reason: 'ifcfg-ens192 binds a MAC',
      operation: null,
      fixes: ['NET-002'],
      undoable: false,
    },
  ],
  predicted_score: 91,
  predicted_verdict: 'ready',
};

const REPAIR = {
  fix: 'boot',
  target: 'kubevirt',
  dry_run: true,
  before_score: 62,
  after_score: 91,
  predicted_score: 91,
  applied: false,
  message: 'Dry run: nothing was written; 1 automatic step would raise the score to 91',
  plan: PLAN,
  before: DOCTOR,
};

const result = (data: unknown, extra: Partial<ResultDocument> = {}): ResultDocument => ({
  job_id: 'job-render-0001',
  status: 'completed',
  completed_at: '2026-01-01T00:00:10Z',
  worker_id: 'worker-test',
  execution_summary: { started_at: '2026-01-01T00:00:00Z', duration_seconds: 10.25, attempt: 1 },
  outputs: { artifacts: [] },
  data,
  ...extra,
});

describe('CLI renderers', () => {
  const cases: [string, unknown][] = [
    ['guestkit.inspect', inspectData()],
    ['guestkit.profile', profileData()],
    ['guestkit.compare', compareData()],
    ['guestkit.convert', CONVERT],
    ['guestkit.fix', FIX],
    ['guestkit.doctor', DOCTOR],
    ['guestkit.migrate-plan', PLAN],
    ['guestkit.repair', REPAIR],
    ['system.echo', { echo: { message: 'hi' }, message: 'Echo handler executed successfully' }],
    ['test.echo', { echo: { message: 'hi' }, message: 'Echo handler executed successfully' }],
  ];
  it('has a fixture result for every operation', () => {
    expect(cases.map(([op]) => op).sort()).toEqual([...OPERATION_NAMES].sort());
  });
  for (const [op, data] of cases) {
    it(`renders a ${op} result as plain text`, () => {
      const text = renderResult(result(data), op, { color: false });
      expect(text).not.toContain(ESC);
      expect(operationOf(data)).toBe(op === 'test.echo' ? 'system.echo' : op); // the same data
      expect(text).toMatchSnapshot();
    });
  }

  it('shows every root of a multi-OS image', () => {
    const os = MULTI_OS_FACTS.map((f) => reportFromFacts(f).operating_system);
    const data = inspectData(MULTI_OS_FACTS[0]);
    data.report.operating_systems = os;
    const text = renderData('guestkit.inspect', data);
    for (const o of os) expect(text).toContain(o.root);
    expect(text).toMatchSnapshot();
  });

  it('lists every package with full, the first ten without', () => {
    const short = renderData('guestkit.inspect', inspectData(DEBIAN_FACTS));
    const full = renderData('guestkit.inspect', inspectData(DEBIAN_FACTS), { full: true });
    expect(short).toContain(`… and ${DEBIAN_FACTS.packages.length - 10} more`);
    for (const p of DEBIAN_FACTS.packages) expect(full).toContain(p.name);
  });

  it('a checksum mismatch shows the expected and the actual digest', () => {
    const text = renderResult(
      result(undefined, {
        status: 'failed',
        error: {
          code: 'IMAGE_CHECKSUM_MISMATCH',
          message: 'Image checksum verification failed for /images/a.img',
          phase: 'checksum',
          details: { expected: 'a'.repeat(64), actual: 'b'.repeat(64) },
          recoverable: false,
          retry_recommended: false,
        },
      }),
    );
    expect(text).toContain(`expected sha256:${'a'.repeat(64)}`);
    expect(text).toContain(`actual   sha256:${'b'.repeat(64)}`);
    expect(renderError({ code: 'X', message: 'y', recoverable: false, retry_recommended: false })).toBe(
      'error  X: y',
    );
  });

  it('colours only when asked, and not when stdout is not a terminal', () => {
    expect(renderData('guestkit.profile', profileData(), { color: true })).toContain(ESC);
    expect(colorWanted({ isTTY: false } as NodeJS.WriteStream)).toBe(false);
  });

  it('formats versions as each distribution writes them', () => {
    expect(osVersion({ distribution: 'ubuntu', major_version: 22, minor_version: 4 })).toBe('22.04');
    expect(osVersion({ distribution: 'rhel', major_version: 9, minor_version: 3 })).toBe('9.3');
    expect(osVersion({ distribution: 'debian', version: '12.4' })).toBe('12');
    expect(osVersion({ distribution: 'fedora', version: '39.0' })).toBe('39');
    expect(osVersion({ distribution: 'unknown', version: '0.0' })).toBe('');
  });
});

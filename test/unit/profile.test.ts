// guestkit.profile rules and engine over hand-made reports (no appliance): every fixture's planted
// facts give exactly the expected findings, each check fires on one input and not on another,
// threshold / remediation / ordering / multi-root behaviour, and payload validation.
import { describe, expect, it } from 'vitest';
import { DEBIAN_FACTS } from '../fixtures/debian.js';
import { RHEL_FACTS } from '../fixtures/rhel.js';
import { UBUNTU_FACTS } from '../fixtures/ubuntu.js';
import { DEBIAN_UPDATED_FACTS, MULTI_OS_FACTS } from '../fixtures/variants.js';
import { RHEL_PERMISSIVE_FACTS } from '../fixtures/rhel-variant.js';
import type { OsFacts } from '../fixtures/types.js';
import { evaluateProfiles, PROFILES } from '../../src/handlers/profile/profiles.js';
import { parsePassMaxDays } from '../../src/handlers/profile/facts.js';
import { validateProfilePayload } from '../../src/handlers/profile/payload.js';
import { PROFILE_NAMES, type RuleInput } from '../../src/handlers/profile/types.js';
import {
  expectedFindingIds,
  profileFactsFromFacts,
  reportFromFacts,
  SEVERITY_OF,
} from './profile-expected.js';

const input = (os: OsFacts): RuleInput => ({ report: reportFromFacts(os), facts: profileFactsFromFacts(os) });
const all = (inputs: RuleInput[], threshold: 'info' | 'low' | 'medium' | 'high' | 'critical' = 'info') =>
  evaluateProfiles(inputs[0].report.image, PROFILE_NAMES, inputs, {
    severityThreshold: threshold,
    includeRemediation: true,
    now: new Date('2026-01-01T00:00:00Z'),
  });
const ids = (inputs: RuleInput[]) => [...new Set(all(inputs).findings.map((f) => f.id))].sort();

const FIXTURE_OSES: [string, OsFacts][] = [
  ['debian-like', DEBIAN_FACTS],
  ['ubuntu-like', UBUNTU_FACTS],
  ['rhel-like', RHEL_FACTS],
  ['rhel-like-permissive', RHEL_PERMISSIVE_FACTS],
  ['debian-like-updated', DEBIAN_UPDATED_FACTS],
  ['multi-os debian root', MULTI_OS_FACTS[0]],
  ['multi-os ubuntu root', MULTI_OS_FACTS[1]],
];

describe('profiles over the fixtures’ planted facts', () => {
  it.each(FIXTURE_OSES)('%s gives exactly the planted findings', (_name, os) => {
    expect(ids([input(os)])).toEqual(expectedFindingIds(os));
  });

  it('ubuntu-like (neglected) trips the security checks with the spec’s severities and references', () => {
    const byId = new Map(all([input(UBUNTU_FACTS)]).findings.map((f) => [f.id, f]));
    expect(byId.get('CIS-SSH-001')).toMatchObject({ profile: 'security', severity: 'high' });
    expect(byId.get('CIS-SSH-001')?.references).toContain('CIS-SSH-001');
    expect(byId.get('CIS-SSH-002')).toMatchObject({ severity: 'medium' });
    expect(byId.get('SEC-FW-001')).toMatchObject({
      severity: 'medium',
      evidence: { installed_but_disabled: ['ufw'] },
    });
    expect(byId.get('SEC-FILE-001')).toMatchObject({
      severity: 'high',
      evidence: { files: ['/etc/app.env'] },
    });
    expect(byId.get('SEC-ACCT-001')).toMatchObject({
      severity: 'critical',
      evidence: { accounts: ['guest'] },
    });
    expect(byId.get('SEC-ACCT-002')).toMatchObject({
      severity: 'critical',
      evidence: { accounts: ['toor'] },
    });
    expect(byId.get('COMP-PASS-001')).toMatchObject({
      severity: 'medium',
      evidence: { PASS_MAX_DAYS: 99999 },
    });
    expect(byId.get('COMP-PASS-001')?.references).toEqual(['CIS-5.4.1.1']);
    expect(byId.get('HARD-SVC-001')).toMatchObject({
      severity: 'medium',
      evidence: { services: ['vsftpd.service'] },
    });
    expect(byId.get('HARD-SVC-001')?.references).toEqual(['CIS-2.2.1']);
    expect(byId.get('HARD-TMP-001')).toMatchObject({ severity: 'medium', evidence: { mode: '0777' } });
    expect(byId.get('MIG-FSTAB-001')).toMatchObject({ evidence: { entries: ['/dev/sda /'] } });
    for (const f of byId.values()) {
      expect(f.remediation, f.id).toMatch(/\w/);
      expect(f.title, f.id).toMatch(/\w/);
    }
  });

  it('rhel-like: SELinux disabled is high with the PCI/CIS references; open-vm-tools is a migration finding', () => {
    const byId = new Map(all([input(RHEL_FACTS)]).findings.map((f) => [f.id, f]));
    expect(byId.get('COMP-SELINUX-001')).toMatchObject({ profile: 'compliance', severity: 'high' });
    expect(byId.get('COMP-SELINUX-001')?.references).toEqual(['PCI-DSS-2.2.4', 'CIS-1.6.1.1']);
    expect(byId.get('MIG-TOOLS-001')).toMatchObject({
      severity: 'low',
      evidence: { tools: ['open-vm-tools'] },
    });
    expect(byId.has('PERF-TUNED-001')).toBe(false);
  });

  it('SELinux is only judged on RHEL-family guests (Debian without SELinux is fine)', () => {
    expect(ids([input(DEBIAN_FACTS)]).some((id) => id.startsWith('COMP-SELINUX'))).toBe(false);
  });
});

describe('checks the fixtures do not trigger, on hand-made variants', () => {
  const withSecurity = (patch: Partial<OsFacts['security']>, os: OsFacts = RHEL_FACTS): OsFacts => ({
    ...os,
    security: { ...os.security, ...patch },
  });

  it('SELinux permissive → medium COMP-SELINUX-002; enforcing → nothing', () => {
    expect(ids([input(withSecurity({ selinux: 'permissive' }))])).toContain('COMP-SELINUX-002');
    const enforcing = ids([input(withSecurity({ selinux: 'enforcing' }))]);
    expect(enforcing.filter((id) => id.startsWith('COMP-SELINUX'))).toEqual([]);
  });

  it('auditd installed but not enabled → COMP-AUDIT-002', () => {
    const os = {
      ...RHEL_FACTS,
      enabledServices: RHEL_FACTS.enabledServices.filter((s) => s !== 'auditd.service'),
    };
    expect(ids([input(os)])).toContain('COMP-AUDIT-002');
    expect(ids([input(os)])).not.toContain('COMP-AUDIT-001');
  });

  it('more than 40 enabled services → low PERF-SVC-001', () => {
    const many = Array.from({ length: 41 }, (_, i) => `svc${i}.service`);
    const os = { ...DEBIAN_FACTS, installedServices: many, enabledServices: many };
    const f = all([input(os)]).findings.find((x) => x.id === 'PERF-SVC-001');
    expect(f).toMatchObject({ severity: 'low', evidence: { enabled_count: 41 } });
    const forty = { ...os, enabledServices: many.slice(0, 40) };
    expect(ids([input(forty)])).not.toContain('PERF-SVC-001');
  });

  it('swap under 1% of the disk → info PERF-SWAP-002; no swap → low PERF-SWAP-001', () => {
    const i = input(DEBIAN_FACTS);
    i.report.image.virtual_size_bytes = 10 * 1024 ** 3; // 8 MiB of swap on a 10 GiB disk
    expect(all([i]).findings.find((f) => f.id === 'PERF-SWAP-002')).toMatchObject({ severity: 'info' });
    const none = input(DEBIAN_FACTS);
    none.facts.swap = [];
    expect(all([none]).findings.find((f) => f.id === 'PERF-SWAP-001')).toMatchObject({ severity: 'low' });
  });

  it('initramfs without virtio storage drivers → MIG-VIRTIO-002, unless the kernel has them built in', () => {
    const i = input(DEBIAN_FACTS);
    i.facts.virtio.initramfs = { '/boot/initrd.img-6.1.0-13-amd64': ['virtio_net'] };
    expect(all([i]).findings.map((f) => f.id)).toContain('MIG-VIRTIO-002');
    i.facts.virtio.kernels['6.1.0-13-amd64'] = { modules: [], builtin: ['virtio_blk'] };
    expect(all([i]).findings.map((f) => f.id)).not.toContain('MIG-VIRTIO-002');
    expect(all([i]).findings.map((f) => f.id)).not.toContain('MIG-VIRTIO-001');
    i.facts.virtio.initramfs['/boot/initrd.img-6.1.0-13-amd64'] = ['virtio_blk', 'virtio_pci'];
    i.facts.virtio.kernels['6.1.0-13-amd64'] = { modules: ['virtio_blk'], builtin: [] };
    expect(all([i]).findings.map((f) => f.id)).not.toContain('MIG-VIRTIO-002');
  });

  it('an unset PasswordAuthentication counts as OpenSSH’s default (yes); no sshd → no SSH findings', () => {
    const i = input(DEBIAN_FACTS);
    i.report.security!.ssh.password_authentication = null;
    expect(all([i]).findings.find((f) => f.id === 'CIS-SSH-002')?.evidence.PasswordAuthentication).toMatch(
      /unset/,
    );
    i.report.security!.ssh = {
      installed: false,
      permit_root_login: 'yes',
      password_authentication: 'yes',
      port: null,
    };
    expect(all([i]).findings.filter((f) => f.id.startsWith('CIS-SSH'))).toEqual([]);
  });

  it('Hyper-V daemons count as foreign tools; qemu-guest-agent does not', () => {
    const i = input(DEBIAN_FACTS);
    i.report.vm_tools.installed = ['qemu-guest-agent'];
    expect(all([i]).findings.map((f) => f.id)).not.toContain('MIG-TOOLS-001');
    i.report.vm_tools.installed = ['hyperv-daemons', 'qemu-guest-agent'];
    expect(all([i]).findings.find((f) => f.id === 'MIG-TOOLS-001')?.evidence.tools).toEqual([
      'hyperv-daemons',
    ]);
  });

  it('fstab by UUID, LABEL, /dev/mapper or /dev/disk/by-* is fine; /dev/vda1 and /dev/xvdb are not', () => {
    const i = input(DEBIAN_FACTS);
    const e = (spec: string) => ({ spec, mountpoint: '/x', type: 'ext4', options: 'defaults' });
    i.report.storage!.fstab = [
      e('LABEL=root'),
      e('/dev/mapper/vg-root'),
      e('/dev/disk/by-uuid/abc'),
      e('UUID=1'),
    ];
    expect(all([i]).findings.map((f) => f.id)).not.toContain('MIG-FSTAB-001');
    i.report.storage!.fstab.push(e('/dev/vda1'), e('/dev/xvdb'), e('/dev/nvme0n1p2'));
    expect(all([i]).findings.find((f) => f.id === 'MIG-FSTAB-001')?.evidence.entries).toEqual([
      '/dev/vda1 /x',
      '/dev/xvdb /x',
      '/dev/nvme0n1p2 /x',
    ]);
  });
});

describe('engine', () => {
  const ubuntu = [input(UBUNTU_FACTS)];

  it('severity_threshold drops findings below it and the summary counts what is left', () => {
    const full = all(ubuntu);
    const medium = all(ubuntu, 'medium');
    expect(medium.findings.length).toBeLessThan(full.findings.length);
    expect(medium.findings.every((f) => ['medium', 'high', 'critical'].includes(f.severity))).toBe(true);
    expect(medium.findings).toEqual(
      full.findings.filter((f) => ['medium', 'high', 'critical'].includes(f.severity)),
    );
    expect(medium.summary.total_findings).toBe(medium.findings.length);
    expect(medium.summary.by_severity).toEqual({ critical: 2, high: 2, medium: 8, low: 0, info: 0 });
    expect(full.summary.by_severity.low + full.summary.by_severity.info).toBeGreaterThan(0);
    expect(all(ubuntu, 'critical').findings.map((f) => f.id)).toEqual(['SEC-ACCT-001', 'SEC-ACCT-002']);
  });

  it('orders most severe first, then profile order, then id', () => {
    const sev = all(ubuntu).findings.map((f) => f.severity);
    const rank = ['info', 'low', 'medium', 'high', 'critical'];
    expect(sev).toEqual([...sev].sort((a, b) => rank.indexOf(b) - rank.indexOf(a)));
  });

  it('only the requested profiles run, in the report’s profiles list', () => {
    const r = evaluateProfiles(ubuntu[0].report.image, ['hardening'], ubuntu, {
      severityThreshold: 'info',
      includeRemediation: true,
    });
    expect(r.profiles).toEqual(['hardening']);
    expect(new Set(r.findings.map((f) => f.profile))).toEqual(new Set(['hardening']));
  });

  it('include_remediation false drops remediation text only', () => {
    const r = evaluateProfiles(ubuntu[0].report.image, PROFILE_NAMES, ubuntu, {
      severityThreshold: 'info',
      includeRemediation: false,
    });
    expect(r.findings.length).toBe(all(ubuntu).findings.length);
    expect(r.findings.every((f) => !('remediation' in f))).toBe(true);
  });

  it('a multi-root image tags each finding with its root and runs the checks per root', () => {
    const roots = MULTI_OS_FACTS.map(input);
    const r = all(roots);
    expect(new Set(r.findings.map((f) => f.root))).toEqual(new Set(['/dev/sda1', '/dev/sda2']));
    for (const [i, os] of MULTI_OS_FACTS.entries()) {
      const mine = [...new Set(r.findings.filter((f) => f.root === os.root).map((f) => f.id))].sort();
      expect(mine, `root ${i}`).toEqual(expectedFindingIds(os));
    }
    expect(r.operating_systems.map((o) => o.hostname)).toEqual(['multi-debian', 'multi-ubuntu']);
    expect(all([input(DEBIAN_FACTS)]).findings.every((f) => f.root === undefined)).toBe(true);
  });

  it('report shape: version, image, profiles, summary, findings, timestamp', () => {
    const r = all(ubuntu);
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining(['version', 'image', 'profiles', 'summary', 'findings', 'timestamp']),
    );
    expect(r.version).toBe('1.0');
    expect(r.timestamp).toBe('2026-01-01T00:00:00.000Z');
    for (const f of r.findings) {
      expect(Object.keys(f).sort()).toEqual(
        ['description', 'evidence', 'id', 'profile', 'references', 'remediation', 'severity', 'title'].sort(),
      );
    }
  });

  it('every profile is registered under its own name', () => {
    for (const name of PROFILE_NAMES) expect(PROFILES[name].name).toBe(name);
  });
});

describe('login.defs parsing', () => {
  it('takes the last uncommented PASS_MAX_DAYS; -1 means never; missing → null', () => {
    expect(parsePassMaxDays('PASS_MAX_DAYS\t90\n')).toBe(90);
    expect(parsePassMaxDays('# PASS_MAX_DAYS 10\nPASS_MAX_DAYS 99999\nPASS_MAX_DAYS   60 # site\n')).toBe(60);
    expect(parsePassMaxDays('PASS_MAX_DAYS -1\n')).toBe(99999);
    expect(parsePassMaxDays('PASS_MIN_DAYS 0\n')).toBeNull();
  });
});

describe('payload validation', () => {
  const image = { path: '/vms/a.qcow2' };

  it('defaults: all five profiles, threshold info, fail_on_critical false, remediation on, json', () => {
    const p = validateProfilePayload({ image });
    expect(p.profiles).toEqual([...PROFILE_NAMES]);
    expect(p.options).toEqual({ severity_threshold: 'info', fail_on_critical: false });
    expect(p.includeRemediation).toBe(true);
    expect(p.output).toEqual({ format: 'json', destination: undefined, compression: null });
    expect(p.isolated).toBe(false);
  });

  it('reads the spec example', () => {
    const p = validateProfilePayload({
      image: { path: '/vms/a.qcow2', format: 'qcow2', checksum: 'SHA256:' + 'AB'.repeat(32) },
      profiles: ['security', 'compliance'],
      options: { severity_threshold: 'medium', fail_on_critical: true },
      output: { format: 'yaml', destination: '/out/p.yaml', include_remediation: false },
    });
    expect(p).toMatchObject({
      image: { path: '/vms/a.qcow2', format: 'qcow2', checksum: 'ab'.repeat(32) },
      profiles: ['security', 'compliance'],
      options: { severity_threshold: 'medium', fail_on_critical: true },
      output: { format: 'yaml', destination: '/out/p.yaml' },
      includeRemediation: false,
    });
  });

  it.each([
    [{}, /Missing required field: payload.data.image/],
    [{ image: {} }, /Missing required field: payload.data.image.path/],
    [{ image, profiles: [] }, /payload.data.profiles - must be a non-empty list/],
    [{ image, profiles: ['security', 'speed'] }, /payload.data.profiles\[1\] - must be one of security/],
    [{ image, options: { severity_threshold: 'urgent' } }, /severity_threshold - must be one of info/],
    [{ image, options: { fail_on_critical: 'yes' } }, /fail_on_critical - must be true or false/],
    [{ image, output: { format: 'xml' } }, /output.format - must be 'json' or 'yaml'/],
    [{ image: { path: '/a', checksum: 'md5:abc' } }, /Only 'sha256' is supported/],
    [{ image: { path: '/a', format: 'ova' } }, /OVA archives are not supported/],
  ])('refuses %j', (data, message) => {
    expect(() => validateProfilePayload(data)).toThrow(message);
  });

  it('ova is UNSUPPORTED_IMAGE_FORMAT, the rest VALIDATION_ERROR', () => {
    const code = (data: unknown) => {
      try {
        validateProfilePayload(data);
      } catch (err) {
        return (err as { code: string }).code;
      }
      return 'none';
    };
    expect(code({ image: { path: '/a', format: 'OVA' } })).toBe('UNSUPPORTED_IMAGE_FORMAT');
    expect(code({ image, profiles: ['x'] })).toBe('VALIDATION_ERROR');
  });
});

describe('SEVERITY_OF (used by the integration test) matches the rules', () => {
  it('every finding the fixtures produce has the listed severity', () => {
    for (const [, os] of FIXTURE_OSES) {
      for (const f of all([input(os)]).findings) expect(f.severity, f.id).toBe(SEVERITY_OF[f.id]);
    }
  });
});

describe('fixture coverage', () => {
  it('every check fires on at least one fixture and stays quiet on at least one other', () => {
    const perFixture = FIXTURE_OSES.map(([name, os]) => [name, new Set(ids([input(os)]))] as const);
    for (const id of Object.keys(SEVERITY_OF)) {
      const on = perFixture.filter(([, got]) => got.has(id)).map(([n]) => n);
      const off = perFixture.filter(([, got]) => !got.has(id)).map(([n]) => n);
      expect(on, `${id} is triggered by no fixture`).not.toEqual([]);
      expect(off, `${id} fires on every fixture`).not.toEqual([]);
    }
  });

  it('rhel-like-permissive trips the checks rhel-like passes', () => {
    const got = ids([input(RHEL_PERMISSIVE_FACTS)]);
    expect(got).toEqual(
      expect.arrayContaining([
        'COMP-SELINUX-002',
        'COMP-AUDIT-002',
        'PERF-SVC-001',
        'PERF-SWAP-002',
        'MIG-VIRTIO-002',
      ]),
    );
    const tools = all([input(RHEL_PERMISSIVE_FACTS)]).findings.find((f) => f.id === 'MIG-TOOLS-001');
    expect(tools?.evidence.tools).toEqual(['hyperv-daemons']);
    const initramfs = all([input(RHEL_PERMISSIVE_FACTS)]).findings.find((f) => f.id === 'MIG-VIRTIO-002');
    expect(initramfs?.evidence.initramfs).toEqual(['/boot/initramfs-5.14.0-284.11.1.el9_2.x86_64.img']);
  });
});

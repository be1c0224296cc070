// compliance profile: mandatory access control, password ageing and auditing.
import type { Finding, Profile, RuleInput } from '../types.js';
import { enabledServices, finding, isRhelFamily, packageNames } from './common.js';

const f = finding.bind(null, 'compliance');

/** Longest password lifetime CIS and PCI-DSS accept. */
export const MAX_PASSWORD_DAYS = 90;

function selinuxCheck({ report }: RuleInput): Finding[] {
  // SELinux is only expected where the distribution ships and supports it by default.
  if (!isRhelFamily(report) || !report.security) return [];
  const status = report.security.selinux.status;
  if (status === 'disabled' || status === 'absent') {
    return [
      f({
        id: 'COMP-SELINUX-001',
        severity: 'high',
        title: 'SELinux disabled',
        description:
          'SELinux is disabled on a RHEL-family system, so no mandatory access control confines services.',
        evidence: { file: '/etc/selinux/config', SELINUX: status === 'absent' ? 'file missing' : status },
        remediation:
          'Set SELINUX=enforcing in /etc/selinux/config, create /.autorelabel and reboot (relabel the filesystem).',
        references: ['PCI-DSS-2.2.4', 'CIS-1.6.1.1'],
      }),
    ];
  }
  if (status === 'permissive') {
    return [
      f({
        id: 'COMP-SELINUX-002',
        severity: 'medium',
        title: 'SELinux in permissive mode',
        description: 'SELinux only logs policy violations instead of blocking them.',
        evidence: { file: '/etc/selinux/config', SELINUX: status },
        remediation: 'Set SELINUX=enforcing in /etc/selinux/config and reboot after reviewing the AVC log.',
        references: ['PCI-DSS-2.2.4', 'CIS-1.6.1.5'],
      }),
    ];
  }
  return [];
}

function passwordAgeCheck({ report, facts }: RuleInput): Finding[] {
  if (report.operating_system.type !== 'linux') return [];
  const days = facts.passMaxDays;
  if (days !== null && days <= MAX_PASSWORD_DAYS) return [];
  return [
    f({
      id: 'COMP-PASS-001',
      severity: 'medium',
      title: 'Password expiration policy too long',
      description:
        days === null
          ? `PASS_MAX_DAYS is not set in /etc/login.defs, so passwords never expire (limit ${MAX_PASSWORD_DAYS}).`
          : `Passwords stay valid for ${days} days (limit ${MAX_PASSWORD_DAYS}).`,
      evidence: { file: '/etc/login.defs', PASS_MAX_DAYS: days },
      remediation: `Set PASS_MAX_DAYS ${MAX_PASSWORD_DAYS} (or less) in /etc/login.defs and apply it to existing users with chage --maxdays.`,
      references: ['CIS-5.4.1.1'],
    }),
  ];
}

function auditCheck({ report }: RuleInput): Finding[] {
  if (report.operating_system.type !== 'linux') return [];
  const installed = ['auditd', 'audit'].filter((p) => packageNames(report).has(p));
  const unit = (report.services?.units ?? []).find((u) => u.name === 'auditd.service' || u.name === 'auditd');
  const enabled = enabledServices(report).has('auditd.service') || enabledServices(report).has('auditd');
  if (enabled) return [];
  if (installed.length === 0 && !unit) {
    return [
      f({
        id: 'COMP-AUDIT-001',
        severity: 'medium',
        title: 'No audit daemon',
        description:
          'auditd is not installed, so security-relevant events (logins, privilege use) are not recorded.',
        evidence: { packages_checked: ['auditd', 'audit'], unit: null },
        remediation:
          'Install the audit daemon (auditd on Debian/Ubuntu, audit on RHEL) and enable auditd.service.',
        references: ['CIS-4.1.1.1', 'PCI-DSS-10.2'],
      }),
    ];
  }
  return [
    f({
      id: 'COMP-AUDIT-002',
      severity: 'medium',
      title: 'Audit daemon not enabled',
      description: 'auditd is installed but does not start at boot, so no audit trail is kept.',
      evidence: { packages: installed, unit: unit?.path ?? null },
      remediation: 'Enable it: systemctl enable auditd.service.',
      references: ['CIS-4.1.1.2', 'PCI-DSS-10.2'],
    }),
  ];
}

export const complianceProfile: Profile = {
  name: 'compliance',
  check: (input) => [...selinuxCheck(input), ...passwordAgeCheck(input), ...auditCheck(input)],
};

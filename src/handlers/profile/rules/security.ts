// security profile: remote access, firewall, file permissions and account checks.
import type { Finding, Profile, RuleInput } from '../types.js';
import { finding } from './common.js';

const f = finding.bind(null, 'security');

function sshChecks({ report }: RuleInput): Finding[] {
  const ssh = report.security?.ssh;
  if (!ssh?.installed) return [];
  const out: Finding[] = [];
  if (ssh.permit_root_login?.toLowerCase() === 'yes') {
    out.push(
      f({
        id: 'CIS-SSH-001',
        severity: 'high',
        title: 'SSH root login enabled',
        description:
          'sshd lets root log in directly, so a guessed or leaked root password gives full control.',
        evidence: { file: '/etc/ssh/sshd_config', PermitRootLogin: ssh.permit_root_login },
        remediation:
          'Set "PermitRootLogin no" (or "prohibit-password") in /etc/ssh/sshd_config and restart sshd.',
        references: ['CIS-SSH-001', 'CIS-5.2.10'],
      }),
    );
  }
  // OpenSSH defaults to "yes" when the keyword is absent.
  const pw = ssh.password_authentication?.toLowerCase() ?? null;
  if (pw === 'yes' || pw === null) {
    out.push(
      f({
        id: 'CIS-SSH-002',
        severity: 'medium',
        title: 'SSH password authentication enabled',
        description:
          'sshd accepts passwords, which can be brute-forced; key-based authentication is much stronger.',
        evidence: {
          file: '/etc/ssh/sshd_config',
          PasswordAuthentication: ssh.password_authentication ?? 'unset (OpenSSH default: yes)',
        },
        remediation: 'Set "PasswordAuthentication no" in /etc/ssh/sshd_config after installing SSH keys.',
        references: ['CIS-SSH-002', 'CIS-5.2.12'],
      }),
    );
  }
  return out;
}

function firewallCheck({ report }: RuleInput): Finding[] {
  const fw = report.security?.firewall;
  if (!fw) return [];
  const active = fw.ufw.enabled || fw.firewalld.enabled || fw.nftables.enabled || fw.iptables.enabled;
  if (active) return [];
  const installedButOff = [
    fw.ufw.installed ? 'ufw' : null,
    fw.firewalld.installed ? 'firewalld' : null,
    fw.nftables.installed ? 'nftables' : null,
    fw.iptables.installed ? 'iptables' : null,
  ].filter((x): x is string => x !== null);
  return [
    f({
      id: 'SEC-FW-001',
      severity: 'medium',
      title: 'No firewall configured',
      description:
        'No host firewall is enabled at boot (ufw, firewalld, nftables or saved iptables rules), so every ' +
        'listening service is reachable from the network.',
      evidence: { installed_but_disabled: installedButOff },
      remediation: installedButOff.includes('ufw')
        ? 'Enable ufw (ENABLED=yes in /etc/ufw/ufw.conf, or "ufw enable") with a default-deny incoming policy.'
        : 'Install and enable a firewall (firewalld, ufw or nftables) with a default-deny incoming policy.',
      references: ['CIS-3.5.1'],
    }),
  ];
}

function worldWritableCheck({ facts }: RuleInput): Finding[] {
  if (facts.worldWritableEtc.length === 0) return [];
  return [
    f({
      id: 'SEC-FILE-001',
      severity: 'high',
      title: 'World-writable files in /etc',
      description:
        'Any local user can change these configuration files, which often leads to privilege escalation.',
      evidence: {
        files: facts.worldWritableEtc.map((w) => w.path),
        modes: facts.worldWritableEtc.map((w) => `${w.path} ${w.mode}`),
      },
      remediation: `Remove the world-write bit: chmod o-w ${facts.worldWritableEtc.map((w) => w.path).join(' ')}`,
      references: ['CIS-6.1.10'],
    }),
  ];
}

function accountChecks({ report }: RuleInput): Finding[] {
  const accounts = report.users?.accounts ?? [];
  const out: Finding[] = [];
  const empty = accounts.filter((a) => a.empty_password).map((a) => a.name);
  if (empty.length > 0) {
    out.push(
      f({
        id: 'SEC-ACCT-001',
        severity: 'critical',
        title: 'Accounts with an empty password',
        description: 'These accounts have an empty password hash in /etc/shadow: anyone can log in as them.',
        evidence: { file: '/etc/shadow', accounts: empty },
        remediation: `Lock or set a password for each account: passwd -l ${empty.join(' / passwd -l ')}`,
        references: ['CIS-6.2.1'],
      }),
    );
  }
  const uid0 = accounts.filter((a) => a.uid === 0 && a.name !== 'root').map((a) => a.name);
  if (uid0.length > 0) {
    out.push(
      f({
        id: 'SEC-ACCT-002',
        severity: 'critical',
        title: 'Accounts other than root with uid 0',
        description:
          'These accounts are root under another name, a classic backdoor and an audit blind spot.',
        evidence: { file: '/etc/passwd', accounts: uid0 },
        remediation: `Remove the accounts or give them their own uid: userdel ${uid0.join(' / userdel ')}`,
        references: ['CIS-6.2.2'],
      }),
    );
  }
  return out;
}

export const securityProfile: Profile = {
  name: 'security',
  check: (input) => [
    ...sshChecks(input),
    ...firewallCheck(input),
    ...worldWritableCheck(input),
    ...accountChecks(input),
  ],
};

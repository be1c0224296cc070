// Quick security findings derived from an inspection report's facts, so the report page can
// colour what matters. guestkit.profile runs the full rule set; these mirror its main checks.
import type { Finding, InspectReport, Severity } from './report-types.js';

const RHEL_FAMILY = /^(rhel|centos|rocky|almalinux|fedora|oraclelinux|redhat-based)$/;
const APPARMOR_FAMILY = /^(debian|ubuntu|linuxmint|opensuse|sles)$/;

export function securityFindings(r: InspectReport): Finding[] {
  const out: Finding[] = [];
  const add = (id: string, severity: Severity, title: string, description: string) =>
    out.push({ id, severity, title, description });
  const s = r.security;
  const distro = r.operating_system.distribution;
  for (const a of r.users?.accounts ?? []) {
    if (a.empty_password)
      add(
        `empty-password-${a.name}`,
        'critical',
        `Account ${a.name} has an empty password`,
        'Anyone can log in as this account without a password.',
      );
    if (a.uid === 0 && a.name !== 'root')
      add(`uid0-${a.name}`, 'critical', `Account ${a.name} has uid 0`, 'A second superuser account.');
  }
  if (s) {
    if (s.ssh.permit_root_login === 'yes')
      add('ssh-root-login', 'high', 'SSH permits root login', 'sshd_config: PermitRootLogin yes.');
    if (s.ssh.password_authentication === 'yes')
      add(
        'ssh-password-auth',
        'medium',
        'SSH allows password authentication',
        'sshd_config: PasswordAuthentication yes.',
      );
    if (!Object.values(s.firewall).some((f) => f.enabled))
      add(
        'no-firewall',
        'medium',
        'No firewall enabled',
        'None of ufw, firewalld, iptables, nftables is enabled at boot.',
      );
    if (RHEL_FAMILY.test(distro) && s.selinux.status === 'disabled')
      add('selinux-disabled', 'high', 'SELinux disabled', 'SELINUX=disabled on a RHEL-family system.');
    if (RHEL_FAMILY.test(distro) && s.selinux.status === 'permissive')
      add('selinux-permissive', 'medium', 'SELinux permissive', 'Policy violations are logged, not blocked.');
    if (APPARMOR_FAMILY.test(distro) && !s.apparmor.enabled)
      add('apparmor-off', 'low', 'AppArmor not enabled', 'No mandatory access control.');
  }
  if (out.length === 0)
    add('none', 'info', 'No issue found by the quick checks', 'Run guestkit.profile for the full rule set.');
  return out;
}

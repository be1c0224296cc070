// Quick security findings derived from an inspection report's facts, so the dashboard's report
// page and the CLI's inspect view show the same ones. guestkit.profile runs the full rule set;
// these mirror its main checks. No Node imports (the dashboard bundles this file).

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface QuickFinding {
  id: string;
  severity: Severity;
  title: string;
  description: string;
}

/** The parts of an inspection report the checks read (server and dashboard types both fit). */
export interface QuickFindingsInput {
  operating_system: { distribution: string };
  users?: { accounts: { name: string; uid: number; empty_password?: boolean }[] };
  security?: {
    selinux: { status: string };
    apparmor: { enabled: boolean };
    firewall: Record<string, { enabled: boolean }>;
    ssh: { permit_root_login: string | null; password_authentication: string | null };
  };
}

const RHEL_FAMILY = /^(rhel|centos|rocky|almalinux|fedora|oraclelinux|redhat-based)$/;
const APPARMOR_FAMILY = /^(debian|ubuntu|linuxmint|opensuse|sles)$/;

/** Findings in the order checked; one `info` entry when nothing was found. */
export function securityFindings(r: QuickFindingsInput): QuickFinding[] {
  const out: QuickFinding[] = [];
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

// Advice derived from a comparison: security regressions first, then what needs a test or a
// review (kernel change, downgrades, removed services, config drift).
import type { ReportDiff } from './diff-report.js';
import type { FilesDiff, Recommendation } from './types.js';

/** Packages whose removal weakens the system's defences. */
const SECURITY_PACKAGES =
  /^(audit|auditd|firewalld|ufw|nftables|iptables|selinux-policy.*|apparmor|aide|fail2ban)$/;

function securityRecommendations(diff: ReportDiff): Recommendation[] {
  const out: Recommendation[] = [];
  const change = (field: string) => diff.security.find((c) => c.field === field);
  const root = change('ssh.permit_root_login');
  if (root && root.to === 'yes') {
    out.push({
      severity: 'high',
      category: 'security',
      message: `sshd PermitRootLogin went from ${String(root.from)} to yes: revert it unless root SSH logins are intended.`,
    });
  }
  const pw = change('ssh.password_authentication');
  if (pw && pw.to === 'yes') {
    out.push({
      severity: 'medium',
      category: 'security',
      message: 'sshd PasswordAuthentication was turned on: prefer key-based logins.',
    });
  }
  const selinux = change('selinux.status');
  const rank = (s: unknown) => ['absent', 'disabled', 'permissive', 'enforcing'].indexOf(String(s));
  if (selinux && rank(selinux.to) < rank(selinux.from)) {
    out.push({
      severity: 'high',
      category: 'security',
      message: `SELinux was weakened from ${String(selinux.from)} to ${String(selinux.to)}.`,
    });
  }
  const firewallOff = diff.security.filter((c) => /^firewall\.\w+\.enabled$/.test(c.field) && c.to === false);
  for (const c of firewallOff) {
    out.push({
      severity: 'high',
      category: 'security',
      message: `The ${c.field.split('.')[1]} firewall is no longer enabled.`,
    });
  }
  const removed = diff.packages.removed.filter((p) => SECURITY_PACKAGES.test(p.name)).map((p) => p.name);
  if (removed.length > 0) {
    out.push({
      severity: 'high',
      category: 'packages',
      message: `Security packages were removed: ${removed.join(', ')}.`,
    });
  }
  return out;
}

function userRecommendations(diff: ReportDiff): Recommendation[] {
  const out: Recommendation[] = [];
  const uid0 = diff.users.added.filter((u) => u.uid === 0).map((u) => u.name);
  if (uid0.length > 0) {
    out.push({
      severity: 'critical',
      category: 'users',
      message: `New accounts with uid 0: ${uid0.join(', ')}. Verify they are authorised.`,
    });
  }
  const emptied = diff.users.changed
    .filter((u) => u.changes.some((c) => c.field === 'empty_password' && c.to === true))
    .map((u) => u.name);
  if (emptied.length > 0) {
    out.push({
      severity: 'critical',
      category: 'users',
      message: `Accounts whose password became empty: ${emptied.join(', ')}.`,
    });
  }
  if (diff.users.added.length > 0) {
    out.push({
      severity: 'info',
      category: 'users',
      message: `New accounts: ${diff.users.added.map((u) => u.name).join(', ')}. Confirm each has an owner.`,
    });
  }
  return out;
}

function changeRecommendations(diff: ReportDiff, config: FilesDiff | null): Recommendation[] {
  const out: Recommendation[] = [];
  if (diff.kernels.added.length > 0 || diff.kernels.removed.length > 0 || diff.kernels.default) {
    out.push({
      severity: 'medium',
      category: 'kernel',
      message: 'The installed kernels changed: boot-test the target before rolling it out.',
    });
  }
  const down = diff.packages.changed.filter((p) => p.direction === 'downgrade');
  if (down.length > 0) {
    out.push({
      severity: 'medium',
      category: 'packages',
      message: `Downgraded packages: ${down.map((p) => `${p.name} ${p.from} → ${p.to}`).join(', ')}. Check they are not missing security fixes.`,
    });
  }
  if (diff.services.disabled.length > 0) {
    out.push({
      severity: 'low',
      category: 'services',
      message: `Services no longer enabled: ${diff.services.disabled.join(', ')}. Confirm nothing depends on them.`,
    });
  }
  if (diff.services.enabled.length > 0) {
    out.push({
      severity: 'low',
      category: 'services',
      message: `Newly enabled services: ${diff.services.enabled.join(', ')}. Review their exposure (ports, firewall).`,
    });
  }
  if (config && config.changed.length + config.added.length + config.removed.length > 0) {
    out.push({
      severity: 'info',
      category: 'config',
      message:
        `${config.changed.length} changed, ${config.added.length} added and ${config.removed.length} removed ` +
        `files under ${config.root}: review the diffs and keep them in configuration management.`,
    });
  }
  const perms = (config?.metadata_changed ?? []).filter((m) =>
    m.changes.some((c) => c.field === 'mode' && /[2367]$/.test(String(c.to))),
  );
  if (perms.length > 0) {
    out.push({
      severity: 'high',
      category: 'security',
      message: `Files became world-writable: ${perms.map((p) => p.path).join(', ')}.`,
    });
  }
  return out;
}

const ORDER = ['critical', 'high', 'medium', 'low', 'info'];

export function recommend(diff: ReportDiff, config: FilesDiff | null): Recommendation[] {
  return [
    ...securityRecommendations(diff),
    ...userRecommendations(diff),
    ...changeRecommendations(diff, config),
  ].sort((a, b) => ORDER.indexOf(a.severity) - ORDER.indexOf(b.severity));
}

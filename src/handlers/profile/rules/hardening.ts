// hardening profile: legacy clear-text services and temporary-directory permissions.
import type { Finding, Profile, RuleInput } from '../types.js';
import { enabledServices, finding, serviceBase } from './common.js';

const f = finding.bind(null, 'hardening');

/** Clear-text or legacy network services CIS wants disabled (unit / init-script base names). */
export const INSECURE_SERVICES = new Set([
  'telnet',
  'telnetd',
  'inetutils-telnetd',
  'rsh',
  'rshd',
  'rlogin',
  'rlogind',
  'rexec',
  'rexecd',
  'tftp',
  'tftpd',
  'tftpd-hpa',
  'atftpd',
  'tftp-server',
  'vsftpd',
]);

function insecureServicesCheck({ report }: RuleInput): Finding[] {
  const hits = [...enabledServices(report)].filter((s) => INSECURE_SERVICES.has(serviceBase(s))).sort();
  if (hits.length === 0) return [];
  return [
    f({
      id: 'HARD-SVC-001',
      severity: 'medium',
      title: 'Insecure legacy services enabled',
      description: `Enabled at boot: ${hits.join(', ')}. These protocols send credentials or data in clear text.`,
      evidence: { services: hits },
      remediation: `Disable and remove them: systemctl disable --now ${hits.join(' ')}; use SSH/SFTP instead.`,
      references: ['CIS-2.2.1'],
    }),
  ];
}

function tmpStickyCheck({ facts }: RuleInput): Finding[] {
  if (!facts.tmp || facts.tmp.sticky) return [];
  return [
    f({
      id: 'HARD-TMP-001',
      severity: 'medium',
      title: '/tmp without the sticky bit',
      description: "Any user can delete or replace other users' files in /tmp (symlink and race attacks).",
      evidence: { path: '/tmp', mode: facts.tmp.mode, source: facts.tmp.source },
      remediation: 'chmod 1777 /tmp (or mount /tmp as tmpfs with mode=1777).',
      references: ['CIS-1.1.21'],
    }),
  ];
}

export const hardeningProfile: Profile = {
  name: 'hardening',
  check: (input) => [...insecureServicesCheck(input), ...tmpStickyCheck(input)],
};

// Security posture from configuration: SELinux mode, AppArmor, the firewalls (ufw, firewalld,
// iptables, nftables) and the effective sshd settings.
import type { Guestfs } from '../../../../lib/guestfs.js';
import type { SecurityInfo } from '../report.js';
import { existing, listDir, meaningfulLines, parseKeyValues, readFiles } from '../guest.js';

export interface SecurityContext {
  /** Enabled unit names (`nftables.service`…). */
  enabledUnits: ReadonlySet<string>;
  /** Installed package names. */
  packages: ReadonlySet<string>;
}

const IPTABLES_RULES = [
  '/etc/iptables/rules.v4',
  '/etc/iptables/rules.v6',
  '/etc/sysconfig/iptables',
  '/etc/sysconfig/ip6tables',
];

/**
 * sshd_config semantics: the first value of a keyword wins, `Include` is read in place (globs in
 * sshd_config.d), and everything after `Match` is conditional, so it is not the default.
 */
export function effectiveSshd(main: string, includes: Map<string, string | null>): Map<string, string> {
  const values = new Map<string, string>();
  const apply = (text: string, depth: number): boolean => {
    for (const line of meaningfulLines(text)) {
      const m = /^(\S+)\s*[=\s]\s*(.*)$/.exec(line);
      if (!m) continue;
      const key = m[1].toLowerCase();
      const value = m[2].trim().replace(/^"(.*)"$/, '$1');
      if (key === 'match') return false;
      if (key === 'include' && depth < 4) {
        for (const pattern of value.split(/\s+/)) {
          const re = globToRegExp(pattern.startsWith('/') ? pattern : `/etc/ssh/${pattern}`);
          for (const [path, content] of [...includes].sort(([a], [b]) => a.localeCompare(b))) {
            if (content !== null && re.test(path) && !apply(content, depth + 1)) return false;
          }
        }
        continue;
      }
      if (!values.has(key)) values.set(key, value);
    }
    return true;
  };
  apply(main, 0);
  return values;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

export async function collectSecurity(g: Guestfs, ctx: SecurityContext): Promise<SecurityInfo> {
  const [sshdD, apparmorD] = await Promise.all([
    listDir(g, '/etc/ssh/sshd_config.d'),
    listDir(g, '/etc/apparmor.d'),
  ]);
  const includes = sshdD.filter((n) => n.endsWith('.conf')).map((n) => `/etc/ssh/sshd_config.d/${n}`);
  const [text, present, apparmorStats] = await Promise.all([
    readFiles(g, [
      '/etc/selinux/config',
      '/etc/ufw/ufw.conf',
      '/etc/default/ufw',
      '/etc/firewalld/firewalld.conf',
      '/etc/ssh/sshd_config',
      ...includes,
    ]),
    existing(g, [...IPTABLES_RULES, '/etc/nftables.conf', '/etc/sysconfig/nftables.conf']),
    apparmorD.length ? g.lstatnslist('/etc/apparmor.d', apparmorD).catch(() => []) : Promise.resolve([]),
  ]);
  const on = (unit: string) => ctx.enabledUnits.has(unit);
  const has = (pkg: string) => ctx.packages.has(pkg);

  const selinuxCfg = text.get('/etc/selinux/config');
  const selinux = parseKeyValues(selinuxCfg);
  const mode = (selinux.SELINUX ?? '').toLowerCase();
  const status: SecurityInfo['selinux']['status'] =
    selinuxCfg === null || selinuxCfg === undefined
      ? 'absent'
      : mode === 'enforcing' || mode === 'permissive'
        ? mode
        : 'disabled';

  const apparmorProfiles = apparmorStats.filter((s) => (s.st_mode & 0o170000n) === 0o100000n).length;

  const ufwConf = text.get('/etc/ufw/ufw.conf');
  const ufwDefaults = parseKeyValues(text.get('/etc/default/ufw'));
  const firewalldConf = text.get('/etc/firewalld/firewalld.conf');
  const rulesFiles = IPTABLES_RULES.filter((f) => present.has(f));
  const nftConf = present.has('/etc/nftables.conf') || present.has('/etc/sysconfig/nftables.conf');

  const sshdMain = text.get('/etc/ssh/sshd_config');
  const sshd = sshdMain ? effectiveSshd(sshdMain, text) : new Map<string, string>();
  const port = sshd.get('port');

  return {
    selinux: {
      status,
      enabled: status === 'enforcing' || status === 'permissive',
      type: selinux.SELINUXTYPE ?? null,
    },
    apparmor: {
      enabled: on('apparmor.service') || (has('apparmor') && apparmorProfiles > 0),
      profiles: apparmorProfiles,
    },
    firewall: {
      ufw: {
        installed: has('ufw') || ufwConf !== null,
        enabled: parseKeyValues(ufwConf).ENABLED?.toLowerCase() === 'yes',
        default_incoming: ufwDefaults.DEFAULT_INPUT_POLICY?.toLowerCase() ?? null,
      },
      firewalld: {
        installed: has('firewalld') || firewalldConf !== null,
        enabled: on('firewalld.service'),
        default_zone: parseKeyValues(firewalldConf).DefaultZone ?? null,
      },
      iptables: {
        installed:
          has('iptables') || has('iptables-services') || has('iptables-persistent') || rulesFiles.length > 0,
        enabled:
          rulesFiles.length > 0 &&
          (on('iptables.service') || on('ip6tables.service') || on('netfilter-persistent.service')),
        rules_files: rulesFiles,
      },
      nftables: {
        installed: has('nftables') || nftConf,
        enabled: on('nftables.service'),
      },
    },
    ssh: {
      installed: sshdMain !== null || has('openssh-server') || has('openssh-server-sysvinit'),
      permit_root_login: sshd.get('permitrootlogin') ?? null,
      password_authentication: sshd.get('passwordauthentication') ?? null,
      port: port !== undefined && /^\d+$/.test(port) ? Number(port) : null,
    },
  };
}

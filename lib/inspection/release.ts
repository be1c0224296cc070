// Which Linux a root filesystem holds, from its release files, by the rules libguestfs' own
// inspection follows (os-release first, then lsb-release, then the per-distro files), so the
// answers agree with inspect_os field by field. Only distributions whose rules are known here
// are answered; anything else returns undefined and the caller falls back to inspect_os.

/** The inspect_get_* facts of one root, as libguestfs names them. */
export interface OsFacts {
  type: string;
  distro: string;
  product_name: string;
  product_variant: string;
  major_version: number;
  minor_version: number;
  hostname: string;
  arch: string;
  package_format: string;
  package_management: string;
  osinfo: string;
}

/** Release-file contents of a root, by path (`/etc/os-release`); absent files are undefined. */
export type ReleaseFiles = ReadonlyMap<string, string>;

type Parser = 'os-release' | 'lsb-release' | 'generic' | 'beyond';

/**
 * libguestfs 1.48's linux_root_tests (daemon/inspect_fs_unix.ml) in order: each file that exists
 * is parsed until a parser says it settled the identity. `beyond` marks tests whose outcome this
 * module does not reproduce (other distributions): reaching one sends the root to inspect_os.
 */
const TESTS: readonly { path: string; parser: Parser; distro?: string; rex?: RegExp }[] = [
  { path: '/etc/os-release', parser: 'os-release' },
  { path: '/etc/lsb-release', parser: 'lsb-release' },
  { path: '/etc/openmandriva-release', parser: 'beyond' },
  { path: '/etc/oracle-release', parser: 'beyond' },
  {
    path: '/etc/centos-release',
    parser: 'generic',
    distro: 'centos',
    rex: /CentOS.*release (\d+).*Update (\d+)/,
  },
  { path: '/etc/centos-release', parser: 'generic', distro: 'centos', rex: /CentOS.*release (\d+)\.(\d+)/ },
  { path: '/etc/centos-release', parser: 'generic', distro: 'centos', rex: /CentOS.*release (\d+)/ },
  {
    path: '/etc/rocky-release',
    parser: 'generic',
    distro: 'rocky',
    rex: /Rocky Linux.*release (\d+)\.(\d+)/,
  },
  { path: '/etc/rocky-release', parser: 'generic', distro: 'rocky', rex: /Rocky Linux.*release (\d+)/ },
  { path: '/etc/altlinux-release', parser: 'beyond' },
  { path: '/etc/redhat-release', parser: 'generic', distro: 'fedora', rex: /Fedora release (\d+)/ },
  {
    path: '/etc/redhat-release',
    parser: 'generic',
    distro: 'rhel',
    rex: /Red Hat.*release (\d+).*Update (\d+)/,
  },
  { path: '/etc/redhat-release', parser: 'generic', distro: 'rhel', rex: /Red Hat.*release (\d+)\.(\d+)/ },
  { path: '/etc/redhat-release', parser: 'generic', distro: 'rhel', rex: /Red Hat.*release (\d+)/ },
  {
    path: '/etc/redhat-release',
    parser: 'generic',
    distro: 'centos',
    rex: /CentOS.*release (\d+).*Update (\d+)/,
  },
  { path: '/etc/redhat-release', parser: 'generic', distro: 'centos', rex: /CentOS.*release (\d+)\.(\d+)/ },
  { path: '/etc/redhat-release', parser: 'generic', distro: 'centos', rex: /CentOS.*release (\d+)/ },
  {
    path: '/etc/redhat-release',
    parser: 'generic',
    distro: 'rocky',
    rex: /Rocky Linux.*release (\d+)\.(\d+)/,
  },
  { path: '/etc/redhat-release', parser: 'generic', distro: 'rocky', rex: /Rocky Linux.*release (\d+)/ },
  // Scientific Linux, then "a generic Red Hat-based distro": always settles, never as ours.
  { path: '/etc/redhat-release', parser: 'beyond' },
  { path: '/etc/debian_version', parser: 'generic', distro: 'debian' },
  ...[
    'pardus-release',
    'arch-release',
    'gentoo-release',
    'meego-release',
    'slackware-version',
    'ttylinux-target',
    'SuSE-release',
    'cirros/version',
    'br-version',
    'alpine-release',
    'frugalware-release',
    'pld-release',
  ].map((f) => ({ path: `/etc/${f}`, parser: 'beyond' as const })),
];

/** The release files {@link identifyLinux} may read, in the order libguestfs tests them. */
export const RELEASE_FILES: readonly string[] = [...new Set(TESTS.map((t) => t.path))];

/** os-release ID → libguestfs distro, for the distributions answered here. */
const OS_RELEASE_IDS: Record<string, string> = {
  debian: 'debian',
  ubuntu: 'ubuntu',
  fedora: 'fedora',
  rhel: 'rhel',
  centos: 'centos',
  rocky: 'rocky',
};
/** IDs libguestfs 1.48 maps to distributions not answered here (unknown IDs it ignores). */
const OTHER_OS_RELEASE_IDS = new Set([
  'alpine',
  'altlinux',
  'arch',
  'coreos',
  'frugalware',
  'gentoo',
  'kali',
  'kylin',
  'mageia',
  'neokylin',
  'openmandriva',
  'opensuse',
  'pardus',
  'pld',
  'sles',
  'sled',
  'void',
]);
/** os-release VERSION_ID of these carries the major only when it ends in 0: the release files say more. */
const MAJOR_ONLY_OS_RELEASE = new Set(['debian', 'centos', 'rocky']);

const DEB = new Set(['debian', 'ubuntu']);

/** libguestfs' inspection_data as the release-file parsers fill it. */
interface Identity {
  distro?: string;
  product?: string;
  version?: [number, number];
}

class Beyond extends Error {}

/** `KEY=value` lines (comments and blank lines skipped), split at the first `=`. */
export function keyValues(text: string, unquote: (v: string) => string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    out.push(eq < 0 ? [line, ''] : [line.slice(0, eq), unquote(line.slice(eq + 1))]);
  }
  return out;
}

/** Shell-style quoting as os-release uses it: "…" with backslash escapes, or '…'. */
export function shellUnquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  }
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  return v;
}

function simpleUnquote(v: string): string {
  return /^(["']).*\1$/s.test(v) && v.length >= 2 ? v.slice(1, -1) : v;
}

/** The first `major.minor` (or bare `major`) in a string, as libguestfs parses versions. */
export function majorMinor(s: string): [number, number] | undefined {
  const m = /(\d+)\.(\d+)/.exec(s) ?? /(\d+)/.exec(s);
  if (!m) return undefined;
  return [Number.parseInt(m[1], 10), m[2] === undefined ? 0 : Number.parseInt(m[2], 10)];
}

/** parse_version_from_major_minor: sets the version only when the string has one. */
function setVersion(id: Identity, s: string): void {
  const v = majorMinor(s);
  if (v && v.every(Number.isSafeInteger)) id.version = v;
  else if (v) throw new Beyond('a version number OCaml cannot hold');
}

/** parse_os_release: true when os-release alone settles the identity. */
function fromOsRelease(text: string, id: Identity): boolean {
  for (const [key, value] of keyValues(text, shellUnquote)) {
    if (key === 'ID') {
      if (Object.hasOwn(OS_RELEASE_IDS, value)) id.distro = OS_RELEASE_IDS[value];
      else if (OTHER_OS_RELEASE_IDS.has(value) || value.startsWith('opensuse-')) throw new Beyond(value);
    } else if (key === 'PRETTY_NAME') id.product = value;
    else if (key === 'VERSION_ID') {
      if (/^V(\d+)Update(\d+)$/.test(value)) throw new Beyond('NeoKylin version');
      setVersion(id, value);
    }
  }
  if (!id.distro || id.product === undefined) return false;
  // Debian's, CentOS's and Rocky's VERSION_ID may carry the major only: their release files say more.
  if (MAJOR_ONLY_OS_RELEASE.has(id.distro) && id.version?.[1] === 0) return false;
  return id.version !== undefined;
}

/** parse_lsb_release. */
function fromLsbRelease(text: string, id: Identity): boolean {
  let ok = false;
  for (const [key, value] of keyValues(text, simpleUnquote)) {
    if (key === 'DISTRIB_ID') {
      if (value === 'Ubuntu') {
        id.distro = 'ubuntu';
        ok = true;
      } else if (['CoreOS', 'LinuxMint', 'Mageia'].includes(value)) throw new Beyond(value);
    } else if (key === 'DISTRIB_RELEASE') setVersion(id, value);
    else if (key === 'DISTRIB_DESCRIPTION') {
      id.product = value;
      ok = true;
    }
  }
  return ok;
}

/**
 * parse_generic: the first line is the product name; with a pattern, the distro and product
 * are set even when it does not match (then the next test runs).
 */
function fromGeneric(text: string, id: Identity, distro: string, rex: RegExp | undefined): boolean {
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  if (first === '') return false;
  id.product = first;
  id.distro = distro;
  if (!rex) {
    setVersion(id, first);
    return true;
  }
  const m = rex.exec(first);
  if (!m) return false;
  const int = (s: string | undefined) => {
    if (s === undefined) return undefined;
    const n = Number.parseInt(s, 10);
    if (!Number.isSafeInteger(n)) throw new Beyond('a version number OCaml cannot hold');
    return n;
  };
  const major = int(m[1]);
  const minor = int(m[2]);
  if (major !== undefined) id.version = [major, minor ?? 0];
  return true;
}

function osinfoOf(distro: string, major: number, minor: number): string {
  switch (distro) {
    case 'centos':
      if (major >= 8) return `centos${major}`;
      if (major === 7) return 'centos7.0';
      if (major === 6) return `centos6.${minor}`;
      break;
    case 'rocky':
      if (major >= 8) return `rocky${major}`;
      break;
    case 'debian':
      if (major >= 4) return `debian${major}`;
      break;
    case 'fedora':
      return `fedora${major}`;
    case 'ubuntu':
      return `ubuntu${major}.${String(minor).padStart(2, '0')}`;
  }
  return major > 0 || minor > 0 ? `${distro}${major}.${minor}` : 'unknown';
}

/**
 * libguestfs' check_package_management: a function of the distribution and the major version
 * alone (0 when no file gave one): Debian and Ubuntu are apt whatever their version; Fedora and
 * the RHEL family with no version are unknown. (Fedora >= 22 is dnf only when /usr/bin/dnf
 * exists: the caller checks that on the guest.)
 */
function packageManagement(distro: string, major: number): string {
  if (DEB.has(distro)) return 'apt';
  if (distro === 'fedora') return major >= 22 ? 'dnf' : major >= 1 ? 'yum' : 'unknown';
  if (major >= 8) return 'dnf';
  if (major >= 5) return 'yum';
  return major >= 2 ? 'up2date' : 'unknown';
}

/**
 * The distribution facts of a Linux root from its release files, or undefined when the files
 * lead anywhere this module does not follow libguestfs exactly (other distributions, release
 * files of others, no distribution at all).
 */
export function identifyLinux(
  files: ReleaseFiles,
):
  | Pick<
      OsFacts,
      | 'distro'
      | 'product_name'
      | 'major_version'
      | 'minor_version'
      | 'osinfo'
      | 'package_format'
      | 'package_management'
    >
  | undefined {
  const id: Identity = {};
  try {
    for (const test of TESTS) {
      const text = files.get(test.path);
      if (text === undefined) continue;
      let settled: boolean;
      switch (test.parser) {
        case 'os-release':
          settled = fromOsRelease(text, id);
          break;
        case 'lsb-release':
          settled = fromLsbRelease(text, id);
          break;
        case 'generic':
          settled = fromGeneric(text, id, test.distro!, test.rex);
          break;
        case 'beyond':
          throw new Beyond(test.path);
      }
      if (settled) break;
    }
  } catch (err) {
    if (err instanceof Beyond) return undefined;
    throw err;
  }
  // A root with no distribution at all is libguestfs' "unknown": left to it.
  if (!id.distro) return undefined;
  const [major, minor] = id.version ?? [0, 0];
  return {
    distro: id.distro,
    product_name: id.product ?? 'unknown',
    major_version: major,
    minor_version: minor,
    osinfo: osinfoOf(id.distro, major, minor),
    package_format: DEB.has(id.distro) ? 'deb' : 'rpm',
    package_management: packageManagement(id.distro, major),
  };
}

/**
 * The hostname libguestfs reports: the first line of /etc/HOSTNAME or /etc/hostname that is
 * neither empty nor a `#` comment, else HOSTNAME= of /etc/sysconfig/network (quotes kept, as
 * Augeas gives it); 'unknown' when none
 * says.
 */
export function hostnameOf(files: ReleaseFiles): string {
  for (const path of ['/etc/HOSTNAME', '/etc/hostname']) {
    const line = files
      .get(path)
      ?.split('\n')
      .find((l) => l !== '' && !l.startsWith('#'));
    if (line !== undefined) return line;
  }
  const network = files.get('/etc/sysconfig/network');
  if (network !== undefined) {
    // Read through Augeas' Shellvars lens, which keeps a value's quotes: libguestfs 1.48 reports
    // HOSTNAME="web01" as `"web01"` (quotes included), and so does this.
    const kv = keyValues(network, (v) => v).find(([k]) => k.trim() === 'HOSTNAME');
    if (kv) return kv[1].trim();
  }
  return 'unknown';
}

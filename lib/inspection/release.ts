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

/** The release files {@link identifyLinux} may read, in the order libguestfs tests them. */
export const RELEASE_FILES = [
  '/etc/os-release',
  '/etc/lsb-release',
  '/etc/oracle-release',
  '/etc/centos-release',
  '/etc/altlinux-release',
  '/etc/redhat-release',
  '/etc/debian_version',
] as const;

/** os-release ID → libguestfs distro, for the distributions answered here. */
const OS_RELEASE_IDS: Record<string, string> = {
  debian: 'debian',
  ubuntu: 'ubuntu',
  fedora: 'fedora',
  rhel: 'rhel',
  centos: 'centos',
  rocky: 'rocky',
};

const DEB = new Set(['debian', 'ubuntu']);

interface Identity {
  /** os-release named a distribution outside {@link OS_RELEASE_IDS}. */
  foreign?: boolean;
  distro?: string;
  product?: string;
  version?: [number, number];
}

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
  return /^(["']).*\1$/.test(v) && v.length >= 2 ? v.slice(1, -1) : v;
}

/** The first `major.minor` (or bare `major`) in a string, as libguestfs parses versions. */
export function majorMinor(s: string): [number, number] | undefined {
  const m = /(\d+)\.(\d+)/.exec(s) ?? /(\d+)/.exec(s);
  if (!m) return undefined;
  return [Number.parseInt(m[1], 10), m[2] === undefined ? 0 : Number.parseInt(m[2], 10)];
}

/** True when os-release alone settles the identity (libguestfs' parse_os_release). */
function fromOsRelease(text: string, id: Identity): boolean {
  for (const [key, value] of keyValues(text, shellUnquote)) {
    if (key === 'ID') {
      if (Object.hasOwn(OS_RELEASE_IDS, value)) id.distro = OS_RELEASE_IDS[value];
      else id.foreign = true;
    } else if (key === 'PRETTY_NAME') id.product = value;
    else if (key === 'VERSION_ID') id.version = majorMinor(value) ?? id.version;
  }
  if (!id.distro || id.product === undefined) return false;
  // Debian's and CentOS's VERSION_ID carry the major only: their release files say more.
  if ((id.distro === 'debian' || id.distro === 'centos') && id.version?.[1] === 0) return false;
  return id.version !== undefined;
}

/** lsb-release; undefined when it names a distribution this module does not answer for. */
function fromLsbRelease(text: string, id: Identity): boolean | undefined {
  let ok = false;
  for (const [key, value] of keyValues(text, simpleUnquote)) {
    if (key === 'DISTRIB_ID') {
      if (value === 'Ubuntu') {
        id.distro = 'ubuntu';
        ok = true;
      } else if (['CoreOS', 'LinuxMint', 'Mageia'].includes(value)) return undefined;
    } else if (key === 'DISTRIB_RELEASE') id.version = majorMinor(value) ?? id.version;
    else if (key === 'DISTRIB_DESCRIPTION') {
      id.product = value;
      ok = true;
    }
  }
  return ok;
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

function packageManagement(distro: string, major: number): string {
  if (DEB.has(distro)) return 'apt';
  if (distro === 'fedora') return major >= 22 ? 'dnf' : 'yum';
  if (major >= 8) return 'dnf';
  return major >= 5 ? 'yum' : 'up2date';
}

/**
 * The distribution facts of a Linux root from its release files, or undefined when the files
 * lead anywhere this module does not follow libguestfs exactly (other distributions, the
 * Oracle/CentOS/ALT/Red Hat release-file paths, unparsable versions).
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
  let settled = false;
  const osRelease = files.get('/etc/os-release');
  if (osRelease !== undefined) settled = fromOsRelease(osRelease, id);
  if (id.foreign) return undefined;
  const lsb = files.get('/etc/lsb-release');
  if (!settled && lsb !== undefined) {
    const r = fromLsbRelease(lsb, id);
    if (r === undefined) return undefined;
    settled = r;
  }
  if (!settled) {
    for (const path of [
      '/etc/oracle-release',
      '/etc/centos-release',
      '/etc/altlinux-release',
      '/etc/redhat-release',
    ]) {
      if (files.has(path)) return undefined;
    }
    const debian = files.get('/etc/debian_version');
    if (debian === undefined) return undefined;
    const first = debian.split('\n')[0];
    if (first === '') return undefined;
    id.distro = 'debian';
    id.product = first;
    id.version = majorMinor(first) ?? id.version;
  }
  if (!id.distro || id.product === undefined || !id.version) return undefined;
  const [major, minor] = id.version;
  return {
    distro: id.distro,
    product_name: id.product,
    major_version: major,
    minor_version: minor,
    osinfo: osinfoOf(id.distro, major, minor),
    package_format: DEB.has(id.distro) ? 'deb' : 'rpm',
    package_management: packageManagement(id.distro, major),
  };
}

/**
 * The hostname libguestfs reports: the first line of /etc/HOSTNAME or /etc/hostname, else
 * HOSTNAME= of /etc/sysconfig/network; 'unknown' when none says.
 */
export function hostnameOf(files: ReleaseFiles): string {
  for (const path of ['/etc/HOSTNAME', '/etc/hostname']) {
    const text = files.get(path);
    if (text === undefined) continue;
    const lines = text.split('\n');
    if (lines.length === 1 && lines[0] === '') continue;
    return lines[0];
  }
  const network = files.get('/etc/sysconfig/network');
  if (network !== undefined) {
    const kv = keyValues(network, shellUnquote).find(([k]) => k.trim() === 'HOSTNAME');
    if (kv) return kv[1].trim();
  }
  return 'unknown';
}

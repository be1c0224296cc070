// An operating system's version as its distribution writes it: Ubuntu 22.04 (libguestfs reports
// major 22, minor 4), RHEL 9.3, Debian 12 (the point release is not part of its version). Shared by
// the CLI renderers and the dashboard, so both print the same thing. No Node imports (the
// dashboard bundles this file).

/** What the function reads; inspection reports and doctor results both fit. */
export interface OsVersionInput {
  distribution: string;
  /** `major.minor` as libguestfs reports it (`"22.4"`), used when the numbers are absent. */
  version?: string;
  major_version?: number;
  minor_version?: number;
}

/** Distributions whose versions are `major.minor` (minor always shown). */
const MAJOR_MINOR =
  /^(rhel|centos|rocky|almalinux|oraclelinux|redhat-based|scientificlinux|sles|opensuse|windows)$/;
/** Distributions whose version is the major number alone. */
const MAJOR_ONLY = /^(debian|fedora|archlinux|gentoo)$/;

function numbers(os: OsVersionInput): [number, number] | undefined {
  if (typeof os.major_version === 'number') return [os.major_version, os.minor_version ?? 0];
  const m = /^(\d+)(?:\.(\d+))?/.exec(os.version ?? '');
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : undefined;
}

/** `22.04`, `9.3`, `12`; an empty string when libguestfs did not know the version (0.0). */
export function osVersion(os: OsVersionInput): string {
  const n = numbers(os);
  if (!n || (n[0] === 0 && n[1] === 0)) return '';
  const [major, minor] = n;
  const distro = os.distribution.toLowerCase();
  if (distro === 'ubuntu' || distro === 'linuxmint') return `${major}.${String(minor).padStart(2, '0')}`;
  if (MAJOR_ONLY.test(distro)) return String(major);
  if (MAJOR_MINOR.test(distro)) return `${major}.${minor}`;
  return minor === 0 ? String(major) : `${major}.${minor}`;
}

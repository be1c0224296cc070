// Package version ordering in the spirit of rpmvercmp / dpkg: epoch first, then version and
// release compared segment by segment (numbers numerically, letters lexically, `~` before
// anything, even the end). Good enough to tell an upgrade from a downgrade in a comparison.
import type { PackageInfo } from '../inspect/report.js';

/** `[epoch:]version[-release]` as package managers print it. */
export function formatVersion(p: Pick<PackageInfo, 'epoch' | 'version' | 'release'>): string {
  return `${p.epoch > 0 ? `${p.epoch}:` : ''}${p.version}${p.release ? `-${p.release}` : ''}`;
}

function compareSegments(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Tilde sorts before everything, including the end of the string (1.0~rc1 < 1.0).
    const ta = a[i] === '~';
    const tb = b[j] === '~';
    if (ta || tb) {
      if (ta && tb) {
        i++;
        j++;
        continue;
      }
      return ta ? -1 : 1;
    }
    if (i >= a.length || j >= b.length) return i >= a.length ? (j >= b.length ? 0 : -1) : 1;
    // Skip separators.
    if (!/[A-Za-z0-9]/.test(a[i])) {
      i++;
      continue;
    }
    if (!/[A-Za-z0-9]/.test(b[j])) {
      j++;
      continue;
    }
    const numeric = /[0-9]/.test(a[i]);
    const re = numeric ? /^[0-9]+/ : /^[A-Za-z]+/;
    const sa = re.exec(a.slice(i))?.[0] ?? '';
    const sb = re.exec(b.slice(j))?.[0] ?? '';
    // A number beats letters in the same position.
    if (sb === '') return numeric ? 1 : -1;
    if (numeric) {
      const na = sa.replace(/^0+/, '');
      const nb = sb.replace(/^0+/, '');
      if (na.length !== nb.length) return na.length < nb.length ? -1 : 1;
      if (na !== nb) return na < nb ? -1 : 1;
    } else if (sa !== sb) {
      return sa < sb ? -1 : 1;
    }
    i += sa.length;
    j += sb.length;
  }
  return 0;
}

/** Negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareVersions(
  a: Pick<PackageInfo, 'epoch' | 'version' | 'release'>,
  b: Pick<PackageInfo, 'epoch' | 'version' | 'release'>,
): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return compareSegments(a.version, b.version) || compareSegments(a.release, b.release);
}

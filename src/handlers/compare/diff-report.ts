// Differences between two inspection reports: OS facts, packages, services, users, kernels,
// network and security settings. Pure functions over report objects (unit-tested without disks).
import type {
  InspectionReport,
  OperatingSystemInfo,
  PackageInfo,
  PackagesInfo,
  ServicesInfo,
  UserAccount,
  UsersInfo,
} from '../inspect/report.js';
import type {
  FieldChange,
  PackageChange,
  PackageRef,
  PackagesDiff,
  ServicesDiff,
  UsersDiff,
} from './types.js';
import { compareVersions, formatVersion } from './version.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Leaf-by-leaf changes of two JSON-like values, with dotted paths. Arrays are compared whole
 * (sorted copies for arrays of strings, whose order carries no meaning here).
 */
export function fieldChanges(
  a: unknown,
  b: unknown,
  prefix = '',
  ignore: readonly string[] = [],
): FieldChange[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => {
      const path = prefix ? `${prefix}.${k}` : k;
      return ignore.includes(path) ? [] : fieldChanges(a[k], b[k], path, ignore);
    });
  }
  const norm = (v: unknown) =>
    Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...(v as string[])].sort() : v;
  return same(norm(a), norm(b)) ? [] : [{ field: prefix, from: a ?? null, to: b ?? null }];
}

/** Device names differ between the two drives of one appliance (sda1 vs sdb1): never a change. */
export function diffOperatingSystems(a: OperatingSystemInfo, b: OperatingSystemInfo): FieldChange[] {
  return fieldChanges(a, b, '', ['root']);
}

/** Package key: the name, or name.arch when a name is installed for several architectures. */
function keyed(list: readonly PackageInfo[]): Map<string, PackageInfo> {
  const counts = new Map<string, number>();
  for (const p of list) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
  return new Map(list.map((p) => [(counts.get(p.name) ?? 0) > 1 ? `${p.name}.${p.arch}` : p.name, p]));
}

const ref = (p: PackageInfo): PackageRef => ({ name: p.name, version: formatVersion(p), arch: p.arch });

export function diffPackages(a: PackagesInfo | undefined, b: PackagesInfo | undefined): PackagesDiff {
  const before = keyed(a?.packages ?? []);
  const after = keyed(b?.packages ?? []);
  const out: PackagesDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const [key, p] of after) if (!before.has(key)) out.added.push(ref(p));
  for (const [key, p] of before) {
    const q = after.get(key);
    if (!q) {
      out.removed.push(ref(p));
      continue;
    }
    const from = formatVersion(p);
    const to = formatVersion(q);
    if (from === to && p.arch === q.arch) {
      out.unchanged++;
      continue;
    }
    const order = compareVersions(p, q);
    const direction: PackageChange['direction'] = order < 0 ? 'upgrade' : order > 0 ? 'downgrade' : 'changed';
    out.changed.push({ name: p.name, from, to, arch: q.arch, direction });
  }
  const byName = (x: { name: string }, y: { name: string }) => x.name.localeCompare(y.name);
  out.added.sort(byName);
  out.removed.sort(byName);
  out.changed.sort(byName);
  return out;
}

export function diffServices(a: ServicesInfo | undefined, b: ServicesInfo | undefined): ServicesDiff {
  const unitsA = new Set((a?.units ?? []).map((u) => u.name));
  const unitsB = new Set((b?.units ?? []).map((u) => u.name));
  const enA = new Set(a?.enabled ?? []);
  const enB = new Set(b?.enabled ?? []);
  const minus = (x: Set<string>, y: Set<string>) => [...x].filter((v) => !y.has(v)).sort();
  return {
    added: minus(unitsB, unitsA),
    removed: minus(unitsA, unitsB),
    enabled: minus(enB, enA),
    disabled: minus(enA, enB),
  };
}

const USER_FIELDS = ['uid', 'gid', 'home', 'shell', 'login', 'locked', 'empty_password', 'groups'] as const;

export function diffUsers(a: UsersInfo | undefined, b: UsersInfo | undefined): UsersDiff {
  const before = new Map((a?.accounts ?? []).map((u) => [u.name, u]));
  const after = new Map((b?.accounts ?? []).map((u) => [u.name, u]));
  const userRef = (u: UserAccount) => ({ name: u.name, uid: u.uid, shell: u.shell });
  const out: UsersDiff = { added: [], removed: [], changed: [] };
  for (const [name, u] of after) if (!before.has(name)) out.added.push(userRef(u));
  for (const [name, u] of before) {
    const v = after.get(name);
    if (!v) {
      out.removed.push(userRef(u));
      continue;
    }
    const changes = USER_FIELDS.flatMap((f) => fieldChanges(u[f], v[f], f));
    if (changes.length > 0) out.changed.push({ name, changes });
  }
  const byName = (x: { name: string }, y: { name: string }) => x.name.localeCompare(y.name);
  out.added.sort(byName);
  out.removed.sort(byName);
  out.changed.sort(byName);
  return out;
}

export interface ReportDiff {
  operating_system: FieldChange[];
  packages: PackagesDiff;
  services: ServicesDiff;
  users: UsersDiff;
  kernels: { added: string[]; removed: string[]; default: FieldChange | null };
  network: FieldChange[];
  security: FieldChange[];
}

/** Everything that differs between two reports, except files (see config-diff.ts). */
export function diffReports(a: InspectionReport, b: InspectionReport): ReportDiff {
  const ka = new Set(a.kernels.installed);
  const kb = new Set(b.kernels.installed);
  const defaultChange = fieldChanges(a.kernels.default, b.kernels.default, 'default')[0] ?? null;
  const net = (r: InspectionReport) =>
    r.network && {
      ...r.network,
      interfaces: Object.fromEntries(r.network.interfaces.map((i) => [i.name, i])),
    };
  const extras = (r: InspectionReport) => ({
    cloud_init: r.cloud_init,
    vm_tools: r.vm_tools.installed,
    machine_id: r.machine_id,
    databases: (r.databases ?? []).map((d) => `${d.engine}${d.version ? ` ${d.version}` : ''}`),
  });
  return {
    operating_system: [
      ...diffOperatingSystems(a.operating_system, b.operating_system),
      ...fieldChanges(extras(a), extras(b)),
    ],
    packages: diffPackages(a.packages, b.packages),
    services: diffServices(a.services, b.services),
    users: diffUsers(a.users, b.users),
    kernels: {
      added: [...kb].filter((k) => !ka.has(k)).sort(),
      removed: [...ka].filter((k) => !kb.has(k)).sort(),
      default: defaultChange,
    },
    network: fieldChanges(net(a), net(b)),
    security: fieldChanges(a.security, b.security),
  };
}

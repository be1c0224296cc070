// What is installed beyond the package list: kernels, databases (from packages and their
// configuration), cloud-init and hypervisor guest tools.
import type { Guestfs } from '../../../../lib/guestfs.js';
import type { CloudInitInfo, DatabaseInfo, KernelsInfo, PackageInfo, VmToolsInfo } from '../report.js';
import { listDir, listDirs, meaningfulLines, parseIni, readFiles } from '../guest.js';

export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (c !== 0) return c;
  }
  return 0;
}

export async function collectKernels(g: Guestfs): Promise<KernelsInfo> {
  // /lib/modules is /usr/lib/modules on merged-/usr guests: one listing, the other only if needed.
  const [boot, libModules] = await Promise.all([listDir(g, '/boot'), listDir(g, '/lib/modules')]);
  const usrModules = libModules.length ? [] : await listDir(g, '/usr/lib/modules');
  const fromBoot = boot.filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice(8));
  const installed = [...new Set([...fromBoot, ...libModules, ...usrModules])].sort(compareVersions);
  const grubFiles = [
    ...(boot.includes('grub') ? ['/boot/grub/grub.cfg'] : []),
    ...(boot.includes('grub2') ? ['/boot/grub2/grub.cfg', '/boot/grub2/grubenv'] : []),
  ];
  const text = await readFiles(g, grubFiles);
  let def: string | null = null;
  for (const cfg of ['/boot/grub/grub.cfg', '/boot/grub2/grub.cfg']) {
    const m = /^\s*linux(?:16|efi)?\s+\S*vmlinuz-(\S+)/m.exec(text.get(cfg) ?? '');
    if (m) {
      def = m[1];
      break;
    }
  }
  const saved = /^saved_entry=.*?-(\d\S*)$/m.exec(text.get('/boot/grub2/grubenv') ?? '');
  if (saved && installed.includes(saved[1])) def = saved[1];
  def ??= fromBoot.sort(compareVersions).at(-1) ?? installed.at(-1) ?? null;
  return { installed, default: def };
}

interface DbRule {
  engine: string;
  packages: RegExp;
  /** Version from the package: group 1 of the name, else the package version cut to `parts`. */
  parts: number;
}

const DB_RULES: DbRule[] = [
  { engine: 'postgresql', packages: /^postgresql(?:-server|-(\d+(?:\.\d+)?)|\d+-server)?$/, parts: 1 },
  { engine: 'mariadb', packages: /^mariadb-server(?:-(\d+\.\d+))?$/, parts: 2 },
  {
    engine: 'mysql',
    packages: /^(?:mysql-server(?:-(\d+\.\d+))?|mysql-community-server|percona-server-server)$/,
    parts: 2,
  },
  { engine: 'mongodb', packages: /^(?:mongodb-org-server|mongodb-server|mongodb)$/, parts: 3 },
  { engine: 'redis', packages: /^(?:redis|redis-server)$/, parts: 3 },
  { engine: 'valkey', packages: /^valkey(?:-server)?$/, parts: 3 },
  { engine: 'sqlite', packages: /^sqlite3?$/, parts: 3 },
];

const DB_CONFIGS = [
  '/etc/mysql/my.cnf',
  '/etc/mysql/mysql.conf.d/mysqld.cnf',
  '/etc/mysql/mariadb.conf.d/50-server.cnf',
  '/etc/my.cnf',
  '/etc/my.cnf.d/mariadb-server.cnf',
  '/etc/my.cnf.d/mysql-server.cnf',
  '/etc/redis/redis.conf',
  '/etc/redis.conf',
  '/etc/mongod.conf',
  '/var/lib/pgsql/data/PG_VERSION',
];

function firstDatadir(
  files: Map<string, string | null>,
  paths: string[],
): { path: string; dir: string } | null {
  for (const p of paths) {
    const ini = parseIni(files.get(p));
    const dir = ini.get('mysqld')?.get('datadir') ?? ini.get('mariadb')?.get('datadir');
    if (dir) return { path: p, dir };
  }
  return null;
}

export async function collectDatabases(
  g: Guestfs,
  packages: readonly PackageInfo[],
): Promise<DatabaseInfo[]> {
  const pgVersions = (await listDirs(g, ['/etc/postgresql'])).get('/etc/postgresql') ?? [];
  const pgConfs = pgVersions.map((v) => `/etc/postgresql/${v}/main/postgresql.conf`);
  const files = await readFiles(g, [...DB_CONFIGS, ...pgConfs]);
  const found = new Map<string, DatabaseInfo>();
  const add = (engine: string, evidence: string, version?: string, dataDir?: string) => {
    const db = found.get(engine) ?? { engine, evidence: [] };
    if (version && !db.version) db.version = version;
    if (dataDir && !db.data_dir) db.data_dir = dataDir;
    db.evidence.push(evidence);
    found.set(engine, db);
  };
  for (const p of packages) {
    for (const rule of DB_RULES) {
      const m = rule.packages.exec(p.name);
      if (!m) continue;
      const version =
        m[1] ??
        p.version
          .split(/[.+~-]/)
          .slice(0, rule.parts)
          .join('.');
      add(rule.engine, `package:${p.name}`, version);
      break;
    }
  }
  pgConfs.forEach((conf, i) => {
    const text = files.get(conf);
    if (text === null || text === undefined) return;
    const m = /^\s*data_directory\s*=\s*'([^']+)'/m.exec(text);
    add('postgresql', `config:${conf}`, pgVersions[i], m?.[1] ?? `/var/lib/postgresql/${pgVersions[i]}/main`);
  });
  const pgVersion = files.get('/var/lib/pgsql/data/PG_VERSION');
  if (pgVersion) add('postgresql', 'data:/var/lib/pgsql/data', pgVersion.trim(), '/var/lib/pgsql/data');
  const mysqlEngine = found.has('mariadb') ? 'mariadb' : 'mysql';
  const my = firstDatadir(
    files,
    DB_CONFIGS.filter((p) => p.includes('my')),
  );
  if (my) add(mysqlEngine, `config:${my.path}`, undefined, my.dir);
  for (const conf of ['/etc/redis/redis.conf', '/etc/redis.conf']) {
    const dir = meaningfulLines(files.get(conf)).find((l) => /^dir\s+/.test(l));
    if (files.get(conf)) add('redis', `config:${conf}`, undefined, dir?.split(/\s+/)[1] ?? undefined);
  }
  const mongo = /dbPath:\s*(\S+)/.exec(files.get('/etc/mongod.conf') ?? '');
  if (files.get('/etc/mongod.conf')) add('mongodb', 'config:/etc/mongod.conf', undefined, mongo?.[1]);
  return [...found.values()].sort((a, b) => a.engine.localeCompare(b.engine));
}

export async function collectCloudInit(g: Guestfs, packages: ReadonlySet<string>): Promise<CloudInitInfo> {
  const dropIns = (await listDirs(g, ['/etc/cloud/cloud.cfg.d'])).get('/etc/cloud/cloud.cfg.d') ?? [];
  const files = await readFiles(g, [
    '/etc/cloud/cloud.cfg',
    '/etc/cloud/cloud-init.disabled',
    ...dropIns.filter((n) => n.endsWith('.cfg')).map((n) => `/etc/cloud/cloud.cfg.d/${n}`),
  ]);
  const datasources = new Set<string>();
  for (const [path, text] of files) {
    if (!text || path.endsWith('.disabled')) continue;
    const m = /^datasource_list:\s*\[([^\]]*)\]/m.exec(text);
    if (m)
      for (const d of m[1].split(',')) if (d.trim()) datasources.add(d.trim().replace(/^['"]|['"]$/g, ''));
  }
  return {
    installed: packages.has('cloud-init') || files.get('/etc/cloud/cloud.cfg') !== null,
    datasources: [...datasources],
    disabled: files.get('/etc/cloud/cloud-init.disabled') !== null,
  };
}

const VM_TOOLS = [
  'qemu-guest-agent',
  'open-vm-tools',
  'open-vm-tools-desktop',
  'vmware-tools',
  'hyperv-daemons',
  'hyperv-tools',
  'virtualbox-guest-utils',
  'virtualbox-guest-additions',
  'xe-guest-utilities',
  'xe-guest-utilities-latest',
  'spice-vdagent',
  'WALinuxAgent',
  'walinuxagent',
];

export function vmTools(packages: ReadonlySet<string>): VmToolsInfo {
  return { installed: VM_TOOLS.filter((t) => packages.has(t)) };
}

// Guest trees for the differential test of the fast inspection against inspect_os: a fast-check
// arbitrary of guest descriptions (release files of every distribution the fast path answers,
// hostname files, fstab, package databases) and their rendering into a GuestTree. Each guest
// sits on its own partition; `index` names the partition (1-based) so fstab device names and
// UUIDs/labels refer to it.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { dpkgStatus } from '../fixtures/dpkg.js';
import { GUEST_RPM_MACROS, GUEST_RPMRC } from '../fixtures/rpmdb.js';
import { GuestTree } from '../fixtures/tree.js';
import type { PackageFact } from '../fixtures/types.js';

export type Family = 'debian' | 'ubuntu' | 'fedora' | 'rhel' | 'centos' | 'rocky';

export interface OsReleaseSpec {
  idQuote: 'none' | 'double' | 'single';
  version: 'full' | 'major' | 'absent';
  pretty: boolean;
  comments: boolean;
  extraKeys: boolean;
}

export type FstabExtra =
  | 'swap-missing'
  | 'missing-disk'
  | 'escaped-label'
  | 'bind'
  | 'tmpfs'
  | 'proc'
  | 'cdrom'
  | 'partuuid-efi'
  | 'nofail-missing-uuid'
  | 'by-uuid';

export interface GuestSpec {
  family: Family;
  major: number;
  minor: number;
  osRelease: OsReleaseSpec | null;
  /** Ubuntu's lsb-release (other families ignore it). */
  lsb: boolean;
  /** The family's own release file (debian_version, redhat-release, centos-/rocky-release). */
  releaseFile: boolean;
  hostname: {
    etcHostname: string[] | null;
    etcHOSTNAME: string[] | null;
    sysconfig: 'none' | 'plain' | 'quoted' | 'absent-key';
    name: string;
  };
  fstab: {
    rootBy: 'uuid' | 'quoted-uuid' | 'label' | 'device' | 'partuuid' | 'none';
    extras: FstabExtra[];
    comments: boolean;
    tabs: boolean;
  };
  packages: number;
  dnf: boolean;
}

const VERSIONS: Record<Family, [number, number][]> = {
  debian: [
    [11, 8],
    [12, 0],
    [12, 4],
  ],
  ubuntu: [
    [20, 4],
    [22, 4],
    [24, 4],
  ],
  fedora: [
    [21, 0],
    [38, 0],
    [39, 0],
  ],
  rhel: [
    [8, 9],
    [9, 0],
    [9, 2],
  ],
  centos: [
    [7, 9],
    [8, 5],
    [9, 0],
  ],
  rocky: [
    [8, 6],
    [9, 0],
    [9, 3],
  ],
};

const hostLine = fc.constantFrom('', '# Ansible managed', '#', '# comment with spaces ');

export const guestSpec: fc.Arbitrary<GuestSpec> = fc
  .constantFrom<Family>('debian', 'ubuntu', 'fedora', 'rhel', 'centos', 'rocky')
  .chain((family) =>
    fc.record({
      family: fc.constant(family),
      version: fc.constantFrom(...VERSIONS[family]),
      osRelease: fc.option(
        fc.record({
          idQuote: fc.constantFrom('none', 'double', 'single'),
          version: fc.constantFrom('full', 'major', 'absent'),
          pretty: fc.boolean(),
          comments: fc.boolean(),
          extraKeys: fc.boolean(),
        }),
        { freq: 5 },
      ),
      lsb: fc.boolean(),
      releaseFile: fc.boolean(),
      hostname: fc.record({
        etcHostname: fc.option(fc.array(hostLine, { maxLength: 2 }), { freq: 4 }),
        etcHOSTNAME: fc.option(fc.array(hostLine, { maxLength: 2 }), { freq: 1 }),
        sysconfig: fc.constantFrom('none', 'plain', 'quoted', 'absent-key'),
        name: fc.constantFrom('web01', 'db-02.example.com', 'host.internal.example.org', 'x'),
      }),
      fstab: fc.record({
        rootBy: fc.constantFrom('uuid', 'quoted-uuid', 'label', 'device', 'partuuid', 'none'),
        extras: fc.uniqueArray(
          fc.constantFrom<FstabExtra>(
            'swap-missing',
            'missing-disk',
            'escaped-label',
            'bind',
            'tmpfs',
            'proc',
            'cdrom',
            'partuuid-efi',
            'nofail-missing-uuid',
            'by-uuid',
          ),
          { maxLength: 4 },
        ),
        comments: fc.boolean(),
        tabs: fc.boolean(),
      }),
      packages: fc.integer({ min: 1, max: 6 }),
      dnf: fc.boolean(),
    }),
  )
  .map(({ version, ...rest }) => ({ ...rest, major: version[0], minor: version[1] }));

/** A UUID fixed by the run and the partition (unique in one appliance). */
export function guestUuid(salt: string, index: number, what: string): string {
  const h = createHash('sha256').update(`${salt}/${index}/${what}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const guestLabel = (index: number) => `dg${index}-root`;

function osReleaseText(s: GuestSpec, o: OsReleaseSpec): string {
  const v = `${s.major}.${s.family === 'ubuntu' ? String(s.minor).padStart(2, '0') : s.minor}`;
  const id = s.family;
  const q = o.idQuote === 'double' ? `"${id}"` : o.idQuote === 'single' ? `'${id}'` : id;
  const pretty: Record<Family, string> = {
    debian: `Debian GNU/Linux ${s.major} (bookworm)`,
    ubuntu: `Ubuntu ${v}.3 LTS`,
    fedora: `Fedora Linux ${s.major} (Server Edition)`,
    rhel: `Red Hat Enterprise Linux ${v} (Plow)`,
    centos: `CentOS Stream ${s.major}`,
    rocky: `Rocky Linux ${v} (Blue Onyx)`,
  };
  const lines = [`NAME="${pretty[s.family].split(' ')[0]}"`, `ID=${q}`];
  if (o.version === 'full') lines.push(`VERSION_ID="${v}"`);
  if (o.version === 'major') lines.push(`VERSION_ID=${s.major}`);
  if (o.pretty) lines.push(`PRETTY_NAME="${pretty[s.family]}"`);
  if (o.extraKeys) lines.push('HOME_URL="https://example.org/"', 'ANSI_COLOR="0;31"');
  if (o.comments) lines.splice(1, 0, '# generated by the differential test', '');
  return lines.join('\n') + '\n';
}

function releaseFile(s: GuestSpec): [string, string][] {
  const v = `${s.major}.${s.minor}`;
  switch (s.family) {
    case 'debian':
      return [['/etc/debian_version', `${v}\n`]];
    case 'ubuntu':
      return [['/etc/debian_version', 'bookworm/sid\n']];
    case 'fedora':
      return [['/etc/redhat-release', `Fedora release ${s.major} (Thirty Nine)\n`]];
    case 'rhel':
      return [['/etc/redhat-release', `Red Hat Enterprise Linux release ${v} (Plow)\n`]];
    case 'centos': {
      const text =
        s.major >= 8 ? `CentOS Stream release ${s.major}\n` : `CentOS Linux release ${v}.2009 (Core)\n`;
      return [
        ['/etc/centos-release', text],
        ['/etc/redhat-release', text],
      ];
    }
    case 'rocky': {
      const text = `Rocky Linux release ${v} (Blue Onyx)\n`;
      return [
        ['/etc/rocky-release', text],
        ['/etc/redhat-release', text],
      ];
    }
  }
}

function fstabText(s: GuestSpec, index: number, salt: string): string {
  const uuid = guestUuid(salt, index, 'root');
  const sep = s.fstab.tabs ? '\t' : ' ';
  const line = (...f: string[]) => f.join(sep);
  const lines: string[] = [];
  if (s.fstab.comments) lines.push('# /etc/fstab: static file system information.', '#', '');
  const rootSpec: Record<GuestSpec['fstab']['rootBy'], string | null> = {
    uuid: `UUID=${uuid}`,
    'quoted-uuid': `UUID="${uuid}"`,
    label: `LABEL=${guestLabel(index)}`,
    device: `/dev/sda${index}`,
    partuuid: `PARTUUID=${guestUuid(salt, index, 'part')}`,
    none: null,
  };
  const root = rootSpec[s.fstab.rootBy];
  if (root) lines.push(line(root, '/', 'ext4', 'errors=remount-ro', '0', '1'));
  for (const e of s.fstab.extras) {
    switch (e) {
      case 'swap-missing':
        lines.push(line(`UUID=${guestUuid(salt, index, 'swap')}`, 'none', 'swap', 'sw', '0', '0'));
        break;
      case 'missing-disk':
        lines.push(line('/dev/sdz1', '/data', 'ext4', 'defaults,nofail', '0', '2'));
        break;
      case 'escaped-label':
        lines.push(line('LABEL=Backup\\040Disk', '/srv/Backup\\040Disk', 'ext4', 'nofail', '0', '2'));
        break;
      case 'bind':
        lines.push(line('/srv/data', '/mnt/data', 'none', 'bind', '0', '0'));
        break;
      case 'tmpfs':
        lines.push(line('tmpfs', '/tmp', 'tmpfs', 'defaults,size=1G', '0', '0'));
        break;
      case 'proc':
        lines.push(line('proc', '/proc', 'proc', 'defaults', '0', '0'));
        break;
      case 'cdrom':
        lines.push(line('/dev/cdrom', '/media/cdrom', 'iso9660', 'noauto,ro', '0', '0'));
        break;
      case 'partuuid-efi':
        lines.push(
          line(`PARTUUID=${guestUuid(salt, index, 'efi')}`, '/boot/efi', 'vfat', 'umask=0077', '0', '1'),
        );
        break;
      case 'nofail-missing-uuid':
        lines.push(line(`UUID=${guestUuid(salt, index, 'gone')}`, '/var/log', 'xfs', 'nofail', '0', '2'));
        break;
      case 'by-uuid':
        lines.push(line(`/dev/disk/by-uuid/${uuid}`, '/srv', 'ext4', 'defaults', '0', '2'));
        break;
    }
  }
  return lines.join('\n') + '\n';
}

export function guestPackages(s: GuestSpec): PackageFact[] {
  const deb = s.family === 'debian' || s.family === 'ubuntu';
  return Array.from({ length: s.packages }, (_, i) => ({
    name: `diff-pkg-${String.fromCharCode(97 + i)}`,
    epoch: i % 3 === 2 ? 1 : 0,
    version: `${i + 1}.${s.major}`,
    release: deb ? `${i}` : `${i}.el${s.major}`,
    arch: deb ? 'amd64' : i % 2 ? 'noarch' : 'x86_64',
    summary: `differential package ${i}`,
  }));
}

/** The guest's root filesystem tree (the rpm database is written by the caller's hook). */
export function renderGuest(s: GuestSpec, index: number, salt: string): GuestTree {
  const t = new GuestTree();
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'etc', 'var/lib', 'srv', 'tmp']) t.dir(`/${d}`);
  t.link('/bin', 'usr/bin').link('/sbin', 'usr/sbin');
  for (const bin of ['bash', 'ls']) t.copy(`/usr/bin/${bin}`, '/usr/bin/true');
  if (s.osRelease) t.file('/etc/os-release', osReleaseText(s, s.osRelease));
  if (s.lsb && s.family === 'ubuntu') {
    const v = `${s.major}.${String(s.minor).padStart(2, '0')}`;
    t.file(
      '/etc/lsb-release',
      `DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=${v}\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION="Ubuntu ${v}.3 LTS"\n`,
    );
  }
  if (s.releaseFile) for (const [path, text] of releaseFile(s)) t.file(path, text);
  const h = s.hostname;
  const hostFile = (lines: string[]) => [...lines, h.name].join('\n') + '\n';
  if (h.etcHostname) t.file('/etc/hostname', hostFile(h.etcHostname));
  if (h.etcHOSTNAME) t.file('/etc/HOSTNAME', hostFile(h.etcHOSTNAME));
  if (h.sysconfig !== 'none') {
    const key =
      h.sysconfig === 'plain'
        ? `HOSTNAME=${h.name}\n`
        : h.sysconfig === 'quoted'
          ? `HOSTNAME="${h.name}"\n`
          : '';
    t.file('/etc/sysconfig/network', `NETWORKING=yes\n${key}`);
  }
  t.file('/etc/fstab', fstabText(s, index, salt));
  t.file('/etc/hosts', '127.0.0.1 localhost\n');
  if (s.family === 'debian' || s.family === 'ubuntu') {
    t.file('/var/lib/dpkg/status', dpkgStatus(guestPackages(s)));
  } else {
    t.file('/usr/lib/rpm/macros', GUEST_RPM_MACROS);
    t.file('/usr/lib/rpm/rpmrc', GUEST_RPMRC);
    if (s.dnf) t.copy('/usr/bin/dnf', '/usr/bin/true');
  }
  return t;
}

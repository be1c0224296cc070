// The sample guest of the Quick start: a small Ubuntu 22.04 web server, built from a directory
// tree in milliseconds with the test fixtures' builder (mke2fs -d, no download, no loop mounts).
// Its facts are data, so the test of scripts/run-sample compares the printed report against them.
import { dpkgStatus } from '../../test/fixtures/dpkg.js';
import { buildRawDisk, type DiskLayout } from '../../test/fixtures/disk.js';
import { linuxTree, sshdConfig } from '../../test/fixtures/linux.js';
import type { OsFacts, PackageFact } from '../../test/fixtures/types.js';

const ROOT_UUID = '5a3e1c2b-7d4f-4e8a-9b6c-0d1e2f3a4b5c';
const KERNEL = '5.15.0-91-generic';

const pkg = (name: string, version: string, release: string, summary: string, arch = 'amd64') =>
  ({ name, epoch: 0, version, release, arch, summary }) satisfies PackageFact;

export const SAMPLE_PACKAGES: PackageFact[] = [
  pkg('apt', '2.4.11', '', 'commandline package manager'),
  pkg('base-files', '12ubuntu4.4', '', 'Debian base system miscellaneous files'),
  pkg('bash', '5.1', '6ubuntu1', 'GNU Bourne Again SHell'),
  pkg('coreutils', '8.32', '4.1ubuntu1', 'GNU core utilities'),
  pkg('cron', '3.0pl1', '137ubuntu3', 'process scheduling daemon'),
  pkg('dpkg', '1.21.1ubuntu2.2', '', 'Debian package management system'),
  pkg('libc6', '2.35', '0ubuntu3.5', 'GNU C Library: Shared libraries'),
  pkg(`linux-image-${KERNEL}`, '5.15.0', '91.101', 'Signed kernel image generic'),
  pkg('nginx', '1.18.0', '6ubuntu14.4', 'small, powerful, scalable web/proxy server'),
  pkg('openssh-server', '8.9p1', '3ubuntu0.6', 'secure shell (SSH) server'),
  pkg('systemd', '249.11', '0ubuntu3.11', 'system and service manager'),
  pkg('ufw', '0.36.1', '4ubuntu0.1', 'program for managing a Netfilter firewall', 'all'),
];

/** What the sample image holds: hostname, packages, accounts, and a risky sshd setting. */
export const SAMPLE_FACTS: OsFacts = {
  type: 'linux',
  distro: 'ubuntu',
  productName: 'Ubuntu 22.04.3 LTS',
  prettyName: 'Ubuntu 22.04.3 LTS',
  majorVersion: 22,
  minorVersion: 4,
  versionId: '22.04',
  hostname: 'sample-web01',
  arch: 'x86_64',
  packageFormat: 'deb',
  packageManagement: 'apt',
  osinfo: 'ubuntu22.04',
  root: '/dev/sda',
  mountpoints: { '/': '/dev/sda' },
  filesystems: [
    { device: '/dev/sda', type: 'ext4', uuid: ROOT_UUID, label: 'sample-root', sizeBytes: 32 * 1024 * 1024 },
  ],
  fstab: [{ spec: `UUID=${ROOT_UUID}`, mountpoint: '/', type: 'ext4', options: 'defaults' }],
  swap: false,
  fstabByDeviceName: false,
  packages: SAMPLE_PACKAGES,
  users: [
    { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash', password: 'hashed' },
    { name: 'daemon', uid: 1, gid: 1, home: '/usr/sbin', shell: '/usr/sbin/nologin', password: 'locked' },
    { name: 'www-data', uid: 33, gid: 33, home: '/var/www', shell: '/usr/sbin/nologin', password: 'locked' },
    { name: 'sshd', uid: 105, gid: 65534, home: '/run/sshd', shell: '/usr/sbin/nologin', password: 'locked' },
    { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice', shell: '/bin/bash', password: 'hashed' },
  ],
  installedServices: [
    'cron.service',
    'nginx.service',
    'ssh.service',
    'systemd-networkd.service',
    'ufw.service',
  ],
  enabledServices: ['cron.service', 'nginx.service', 'ssh.service', 'systemd-networkd.service'],
  network: {
    interfaces: [{ name: 'ens3', configSource: 'netplan', dhcp: true, addresses: [], gateway: null }],
    dnsServers: ['192.0.2.53'],
  },
  security: {
    selinux: null,
    apparmor: false,
    firewall: { ufw: false, firewalld: false, nftables: false, iptables: false },
    firewallEnabled: false,
    // The risky setting the inspection should point out.
    ssh: { permitRootLogin: 'yes', passwordAuthentication: true },
    emptyPasswordUsers: [],
    extraUid0Users: [],
    passMaxDays: 99999,
    worldWritableEtc: [],
    tmpSticky: true,
    auditd: false,
    insecureServices: [],
  },
  kernels: [KERNEL],
  virtioModules: false,
  databases: [],
  cloudInit: false,
  vmTools: null,
  machineId: '3c1f0e9d8b7a46251f0e9d8c7b6a5f4e',
};

function sampleLayout(os: OsFacts): DiskLayout {
  const t = linuxTree(os, {
    osRelease: {
      PRETTY_NAME: os.prettyName,
      NAME: 'Ubuntu',
      VERSION_ID: os.versionId,
      VERSION: '22.04.3 LTS (Jammy Jellyfish)',
      VERSION_CODENAME: 'jammy',
      ID: 'ubuntu',
      ID_LIKE: 'debian',
      UBUNTU_CODENAME: 'jammy',
    },
    unitDir: '/lib/systemd/system',
    groups: [
      { name: 'shadow', gid: 42 },
      { name: 'sudo', gid: 27, members: ['alice'] },
    ],
    loginDefsPassMaxDays: os.security.passMaxDays,
    bootFiles: (v) => [`vmlinuz-${v}`, `initrd.img-${v}`, `config-${v}`],
    virtioModules: [],
  });
  t.file(
    '/etc/lsb-release',
    `DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=${os.versionId}\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION="${os.prettyName}"\n`,
  );
  t.file('/etc/debian_version', 'bookworm/sid\n');
  t.file('/var/lib/dpkg/status', dpkgStatus(os.packages));
  t.dir('/var/lib/dpkg/info');
  t.file(
    '/etc/netplan/50-cloud-init.yaml',
    'network:\n  version: 2\n  ethernets:\n    ens3:\n      dhcp4: true\n',
    { mode: 0o600 },
  );
  t.file(
    '/etc/ssh/sshd_config',
    sshdConfig(os.security.ssh.permitRootLogin, os.security.ssh.passwordAuthentication),
  );
  t.dir('/etc/ssh/sshd_config.d');
  t.file('/etc/ufw/ufw.conf', '# /etc/ufw/ufw.conf\nENABLED=no\nLOGLEVEL=low\n');
  t.file(
    '/etc/nginx/nginx.conf',
    'user www-data;\nevents {}\nhttp { server { listen 80; root /var/www/html; } }\n',
  );
  t.file('/var/www/html/index.html', '<h1>sample-web01</h1>\n');
  const [root] = os.filesystems;
  return {
    sizeMiB: 32,
    table: null,
    labelId: '',
    partitions: [{ sizeMiB: 32, fs: { kind: 'ext4', uuid: root.uuid, label: root.label, tree: t } }],
  };
}

/** Writes the sample image (raw) to `out`; `work` is an empty scratch directory. */
export async function buildSampleImage(out: string, work: string): Promise<void> {
  await buildRawDisk(out, sampleLayout(SAMPLE_FACTS), work);
}

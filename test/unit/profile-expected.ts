// Test helpers for guestkit.profile: the report and profile facts a fixture's planted facts
// imply (hand-made inputs for the rules, no appliance), and the finding ids those facts must
// produce — derived from the facts directly, not from the rules, so the two can disagree.
import type { OsFacts } from '../fixtures/types.js';
import type { InspectionReport } from '../../src/handlers/inspect/report.js';
import type { ProfileFacts } from '../../src/handlers/profile/types.js';

const MiB = 1024 * 1024;

export function reportFromFacts(os: OsFacts, virtualSizeBytes = 64 * MiB): InspectionReport {
  const installed = new Set(os.packages.map((p) => p.name));
  const sec = os.security;
  return {
    version: '1.0',
    image: {
      path: `/images/${os.hostname}.img`,
      format: 'raw',
      size_bytes: virtualSizeBytes,
      virtual_size_bytes: virtualSizeBytes,
    },
    operating_system: {
      type: os.type,
      distribution: os.distro,
      product_name: os.productName,
      product_variant: 'unknown',
      version: `${os.majorVersion}.${os.minorVersion}`,
      major_version: os.majorVersion,
      minor_version: os.minorVersion,
      hostname: os.hostname,
      arch: os.arch,
      package_format: os.packageFormat,
      package_management: os.packageManagement,
      osinfo: os.osinfo,
      root: os.root,
    },
    mountpoints: os.mountpoints,
    filesystems: os.filesystems.map((f) => ({
      device: f.device,
      type: f.type,
      uuid: f.uuid,
      label: f.label,
      size_bytes: f.sizeBytes,
    })),
    packages: { count: os.packages.length, manager: os.packageFormat, packages: os.packages },
    services: {
      count: os.installedServices.length,
      enabled: [...os.enabledServices],
      units: os.installedServices.map((name) => ({
        name,
        kind: 'systemd' as const,
        type: 'service',
        enabled: os.enabledServices.includes(name),
        wanted_by: os.enabledServices.includes(name) ? ['multi-user.target'] : [],
        path: `/lib/systemd/system/${name}`,
      })),
    },
    users: {
      count: os.users.length,
      login_count: os.users.filter((u) => u.password !== 'locked' && !/nologin|false/.test(u.shell)).length,
      accounts: os.users.map((u) => ({
        name: u.name,
        uid: u.uid,
        gid: u.gid,
        home: u.home,
        shell: u.shell,
        login: u.password !== 'locked' && !/nologin|false/.test(u.shell),
        system: u.uid < 1000,
        locked: u.password === 'locked',
        empty_password: u.password === 'empty',
        groups: [],
      })),
      groups: [],
    },
    network: {
      hostname: os.hostname,
      interfaces: os.network.interfaces.map((i) => ({
        name: i.name,
        config_source: i.configSource,
        addresses: i.addresses,
        dhcp: i.dhcp,
        file: '',
      })),
      dns_servers: os.network.dnsServers,
      gateway: os.network.interfaces.find((i) => i.gateway)?.gateway ?? null,
    },
    security: {
      selinux: {
        status: sec.selinux ?? 'absent',
        enabled: sec.selinux === 'enforcing' || sec.selinux === 'permissive',
        type: sec.selinux ? 'targeted' : null,
      },
      apparmor: { enabled: sec.apparmor, profiles: sec.apparmor ? 1 : 0 },
      firewall: {
        ufw: { installed: installed.has('ufw'), enabled: sec.firewall.ufw, default_incoming: null },
        firewalld: {
          installed: installed.has('firewalld'),
          enabled: sec.firewall.firewalld,
          default_zone: null,
        },
        iptables: { installed: installed.has('iptables'), enabled: sec.firewall.iptables, rules_files: [] },
        nftables: { installed: installed.has('nftables'), enabled: sec.firewall.nftables },
      },
      ssh: {
        installed: installed.has('openssh-server'),
        permit_root_login: sec.ssh.permitRootLogin,
        password_authentication: sec.ssh.passwordAuthentication ? 'yes' : 'no',
        port: null,
      },
    },
    storage: { partitions: [], lvm: { pvs: [], vgs: [], lvs: [] }, fstab: os.fstab },
    kernels: { installed: os.kernels, default: os.kernels[0] ?? null },
    databases: os.databases.map((d) => ({
      engine: d.engine,
      version: d.version,
      data_dir: d.dataDir,
      evidence: [],
    })),
    cloud_init: { installed: os.cloudInit, datasources: [], disabled: false },
    vm_tools: { installed: os.vmTools ? [os.vmTools] : [] },
    machine_id: os.machineId,
    warnings: [],
    generated_at: '2026-01-01T00:00:00.000Z',
  };
}

export function profileFactsFromFacts(os: OsFacts): ProfileFacts {
  return {
    passMaxDays: os.security.passMaxDays,
    worldWritableEtc: os.security.worldWritableEtc.map((path) => ({ path, mode: '0666' })),
    tmp: {
      mode: os.security.tmpSticky ? '1777' : '0777',
      sticky: os.security.tmpSticky,
      source: 'filesystem',
    },
    swap: os.fstab
      .filter((e) => e.type === 'swap')
      .map((e) => ({
        spec: e.spec,
        size_bytes:
          os.filesystems.find((f) => e.spec === `UUID=${f.uuid}`)?.sizeBytes ??
          os.swapFiles?.find((f) => f.path === e.spec)?.sizeBytes ??
          null,
      })),
    virtio: {
      kernels: Object.fromEntries(
        os.kernels.map((k) => [
          k,
          { modules: os.virtioModules ? ['virtio_blk', 'virtio_net', 'virtio_pci'] : [], builtin: [] },
        ]),
      ),
      initramfs: Object.fromEntries(
        Object.entries(os.initramfsModules ?? {}).map(([k, mods]) => [`/boot/initramfs-${k}.img`, mods]),
      ),
    },
    warnings: [],
  };
}

const RHEL_FAMILY = new Set(['rocky', 'rhel', 'centos', 'almalinux', 'fedora']);

/** Finding ids (sorted) the planted facts call for, over all five profiles. */
export function expectedFindingIds(os: OsFacts, virtualSizeBytes = 64 * MiB): string[] {
  const s = os.security;
  const pkgs = new Set(os.packages.map((p) => p.name));
  const swapBytes =
    os.filesystems.filter((f) => f.type === 'swap').reduce((n, f) => n + f.sizeBytes, 0) +
    (os.swapFiles ?? []).reduce((n, f) => n + f.sizeBytes, 0);
  const auditPackage = pkgs.has('audit') || pkgs.has('auditd');
  const initramfsWithoutVirtio = Object.values(os.initramfsModules ?? {}).some(
    (mods) => !mods.includes('virtio_blk') && !mods.includes('virtio_scsi'),
  );
  const ids: [string, boolean][] = [
    ['CIS-SSH-001', s.ssh.permitRootLogin === 'yes'],
    ['CIS-SSH-002', s.ssh.passwordAuthentication],
    ['SEC-FW-001', !s.firewallEnabled],
    ['SEC-FILE-001', s.worldWritableEtc.length > 0],
    ['SEC-ACCT-001', s.emptyPasswordUsers.length > 0],
    ['SEC-ACCT-002', s.extraUid0Users.length > 0],
    ['COMP-SELINUX-001', RHEL_FAMILY.has(os.distro) && (s.selinux === 'disabled' || s.selinux === null)],
    ['COMP-SELINUX-002', RHEL_FAMILY.has(os.distro) && s.selinux === 'permissive'],
    ['COMP-PASS-001', s.passMaxDays > 90],
    ['COMP-AUDIT-001', !s.auditd && !auditPackage],
    ['COMP-AUDIT-002', !s.auditd && auditPackage],
    ['HARD-SVC-001', s.insecureServices.length > 0],
    ['HARD-TMP-001', !s.tmpSticky],
    ['PERF-SWAP-001', !os.swap],
    ['PERF-SWAP-002', os.swap && swapBytes < virtualSizeBytes * 0.01],
    ['PERF-TUNED-001', !pkgs.has('tuned')],
    ['PERF-IRQ-001', !pkgs.has('irqbalance')],
    ['PERF-SVC-001', os.enabledServices.length > 40],
    ['MIG-VIRTIO-001', !os.virtioModules],
    ['MIG-VIRTIO-002', initramfsWithoutVirtio],
    ['MIG-FSTAB-001', os.fstabByDeviceName],
    ['MIG-CLOUDINIT-001', !os.cloudInit],
    ['MIG-TOOLS-001', os.vmTools !== null && /vm-tools|vmware|hyperv/.test(os.vmTools)],
  ];
  return ids
    .filter(([, on]) => on)
    .map(([id]) => id)
    .sort();
}

/** The severity each check reports (from the spec's table), for threshold expectations. */
export const SEVERITY_OF: Record<string, 'info' | 'low' | 'medium' | 'high' | 'critical'> = {
  'CIS-SSH-001': 'high',
  'CIS-SSH-002': 'medium',
  'SEC-FW-001': 'medium',
  'SEC-FILE-001': 'high',
  'SEC-ACCT-001': 'critical',
  'SEC-ACCT-002': 'critical',
  'COMP-SELINUX-001': 'high',
  'COMP-SELINUX-002': 'medium',
  'COMP-PASS-001': 'medium',
  'COMP-AUDIT-001': 'medium',
  'COMP-AUDIT-002': 'medium',
  'HARD-SVC-001': 'medium',
  'HARD-TMP-001': 'medium',
  'PERF-SWAP-001': 'low',
  'PERF-SWAP-002': 'info',
  'PERF-TUNED-001': 'info',
  'PERF-IRQ-001': 'info',
  'PERF-SVC-001': 'low',
  'MIG-VIRTIO-001': 'medium',
  'MIG-VIRTIO-002': 'medium',
  'MIG-FSTAB-001': 'medium',
  'MIG-CLOUDINIT-001': 'low',
  'MIG-TOOLS-001': 'low',
};

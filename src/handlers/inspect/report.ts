// The inspection report of guestkit.inspect (operations.md), shared with guestkit.profile and
// guestkit.compare: they build on the same sections. Field names are the wire format (snake_case).

/** Which sections to collect; every flag defaults to true. */
export interface InspectOptions {
  deep_scan: boolean;
  include_packages: boolean;
  include_services: boolean;
  include_users: boolean;
  include_network: boolean;
  include_security: boolean;
  include_storage: boolean;
  include_databases: boolean;
}

export const DEFAULT_INSPECT_OPTIONS: Readonly<InspectOptions> = Object.freeze({
  deep_scan: false,
  include_packages: true,
  include_services: true,
  include_users: true,
  include_network: true,
  include_security: true,
  include_storage: true,
  include_databases: true,
});

export interface ImageInfo {
  path: string;
  format: string;
  size_bytes: number;
  virtual_size_bytes: number;
  /** `sha256:<hex>` once verified (only when the job gave a checksum). */
  checksum?: string;
}

/** The libguestfs `inspect_get_*` facts of one root. */
export interface OperatingSystemInfo {
  type: string;
  distribution: string;
  product_name: string;
  product_variant: string;
  /** `major.minor` as libguestfs reports them (`"12.0"`; `"0.0"` when unknown). */
  version: string;
  major_version: number;
  minor_version: number;
  hostname: string;
  arch: string;
  package_format: string;
  package_management: string;
  osinfo: string;
  /** Root device as libguestfs names it inside the appliance of this job. */
  root: string;
}

export interface FilesystemInfo {
  device: string;
  type: string;
  uuid: string;
  label: string;
  size_bytes: number;
}

export interface PackageInfo {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  summary: string;
}

export interface PackagesInfo {
  count: number;
  /** rpm / dpkg / … (inspect_get_package_format). */
  manager: string;
  packages: PackageInfo[];
}

export interface ServiceUnit {
  name: string;
  /** `systemd` unit (service/socket/timer/…) or `sysv` init script. */
  kind: 'systemd' | 'sysv';
  /** Unit type for systemd (`service`, `socket`, `timer`, `target`, `path`, …), `service` for sysv. */
  type: string;
  enabled: boolean;
  /** The target / runlevel that wants it (`multi-user.target`, `rc2.d`), when enabled. */
  wanted_by: string[];
  /** Where the unit file lives in the guest (empty if only a link was found). */
  path: string;
}

export interface ServicesInfo {
  count: number;
  /** Names of enabled units (`sshd.service`, `cron.timer`, sysv: script name). */
  enabled: string[];
  units: ServiceUnit[];
}

export interface UserAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** The shell lets the account log in (not nologin/false) and the password is not locked. */
  login: boolean;
  /** uid below the guest's UID_MIN (login.defs, default 1000; root included) or nobody (65534). */
  system: boolean;
  /** Password locked (`!`/`*` hash) in /etc/shadow; false when shadow has no entry. */
  locked: boolean;
  /** Empty password hash in /etc/shadow (anyone may log in without a password). */
  empty_password: boolean;
  groups: string[];
}

export interface UsersInfo {
  count: number;
  login_count: number;
  accounts: UserAccount[];
  groups: { name: string; gid: number; members: string[] }[];
}

export interface NetworkInterface {
  name: string;
  /** `netplan`, `ifupdown`, `networkmanager`, `ifcfg`, `systemd-networkd`. */
  config_source: string;
  /** CIDR addresses (`192.0.2.10/24`). */
  addresses: string[];
  dhcp: boolean;
  /** Config file in the guest. */
  file: string;
}

export interface NetworkInfo {
  hostname: string;
  interfaces: NetworkInterface[];
  dns_servers: string[];
  gateway: string | null;
}

export interface SecurityInfo {
  selinux: {
    status: 'enforcing' | 'permissive' | 'disabled' | 'absent';
    enabled: boolean;
    type: string | null;
  };
  apparmor: { enabled: boolean; profiles: number };
  firewall: {
    ufw: { installed: boolean; enabled: boolean; default_incoming: string | null };
    firewalld: { installed: boolean; enabled: boolean; default_zone: string | null };
    /** enabled: a rules file exists and a service loads it (iptables / netfilter-persistent). */
    iptables: { installed: boolean; enabled: boolean; rules_files: string[] };
    nftables: { installed: boolean; enabled: boolean };
  };
  /** Effective sshd_config values (first occurrence wins, as sshd does); null when not set / no sshd. */
  ssh: {
    installed: boolean;
    permit_root_login: string | null;
    password_authentication: string | null;
    port: number | null;
  };
}

export interface PartitionInfo {
  device: string;
  number: number;
  start_bytes: number;
  size_bytes: number;
  /** Filesystem on it (`ext4`, `xfs`, `swap`, `LVM2_member`, …; `unknown` when none). */
  filesystem: string;
}

export interface FstabEntry {
  spec: string;
  mountpoint: string;
  type: string;
  options: string;
}

export interface StorageInfo {
  partitions: PartitionInfo[];
  lvm: { pvs: string[]; vgs: string[]; lvs: string[] };
  fstab: FstabEntry[];
}

export interface KernelsInfo {
  /** Versions found in /boot (vmlinuz-*) and /lib/modules. */
  installed: string[];
  default: string | null;
}

export interface DatabaseInfo {
  engine: string;
  version?: string;
  data_dir?: string;
  /** What revealed it: `package:<name>`, `config:<path>`, `data:<path>`. */
  evidence: string[];
}

export interface CloudInitInfo {
  installed: boolean;
  datasources: string[];
  disabled: boolean;
}

export interface VmToolsInfo {
  /** `qemu-guest-agent`, `open-vm-tools`, `hyperv-daemons`, `virtualbox-guest`, `xe-guest-utilities`… */
  installed: string[];
}

/** The full report. A section is absent when its include_* flag is false. */
export interface InspectionReport {
  version: '1.0';
  image: ImageInfo;
  operating_system: OperatingSystemInfo;
  /** Every root, when the image holds more than one OS (first is `operating_system`). */
  operating_systems?: OperatingSystemInfo[];
  /**
   * Every root with its own sections, when the image holds more than one OS (first: the root the
   * top-level fields describe, which stay for single-root clients).
   */
  roots?: RootReport[];
  mountpoints: Record<string, string>;
  filesystems: FilesystemInfo[];
  packages?: PackagesInfo;
  services?: ServicesInfo;
  users?: UsersInfo;
  network?: NetworkInfo;
  security?: SecurityInfo;
  storage?: StorageInfo;
  kernels: KernelsInfo;
  databases?: DatabaseInfo[];
  cloud_init: CloudInitInfo;
  vm_tools: VmToolsInfo;
  machine_id: string | null;
  /** Non-fatal problems met while collecting (a file that could not be parsed…). */
  warnings: string[];
  generated_at: string;
}

/** What the report says of one root: its OS facts and the sections read from its filesystems. */
export type RootReport = Omit<
  InspectionReport,
  'version' | 'image' | 'operating_systems' | 'roots' | 'generated_at'
>;

/** The sections of a full report that belong to its root (everything but image and envelope). */
export function rootReport(report: InspectionReport): RootReport {
  const { version, image, operating_systems, roots, generated_at, ...root } = report;
  void [version, image, operating_systems, roots, generated_at];
  return root;
}

/** The small `summary` of the result data. */
export interface InspectSummary {
  os: string;
  distribution: string;
  version: string;
  hostname: string;
  arch: string;
  packages: number | null;
  services_enabled: number | null;
  users: number | null;
  roots: number;
}

/** Result `data` of guestkit.inspect. */
export interface InspectResultData {
  status: 'success';
  output_file: string | null;
  summary: InspectSummary;
  report: InspectionReport;
}

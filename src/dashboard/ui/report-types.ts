// The parts of the inspection, profile and comparison reports the dashboard shows
// (see src/handlers/inspect/report.ts, profile/types.ts, compare/types.ts for the full shapes).

import type { Severity } from '../../report/findings.js';
export { SEVERITY_ORDER, type Severity } from '../../report/findings.js';

export interface OsInfo {
  type: string;
  distribution: string;
  product_name: string;
  version: string;
  hostname: string;
  arch: string;
  package_format: string;
  osinfo: string;
  root: string;
}

export interface InspectReport {
  image: { path: string; format: string; size_bytes: number; virtual_size_bytes: number; checksum?: string };
  operating_system: OsInfo;
  operating_systems?: OsInfo[];
  /** Every root with its own sections when the disk holds more than one OS (first: the top level's). */
  roots?: RootView[];
  mountpoints: Record<string, string>;
  filesystems: { device: string; type: string; uuid: string; label: string; size_bytes: number }[];
  packages?: {
    count: number;
    manager: string;
    packages: {
      name: string;
      epoch: number;
      version: string;
      release: string;
      arch: string;
      summary: string;
    }[];
  };
  services?: {
    count: number;
    enabled: string[];
    units: { name: string; kind: string; type: string; enabled: boolean; wanted_by: string[] }[];
  };
  users?: {
    count: number;
    login_count: number;
    accounts: {
      name: string;
      uid: number;
      gid: number;
      home: string;
      shell: string;
      login: boolean;
      system: boolean;
      locked?: boolean;
      empty_password?: boolean;
    }[];
  };
  network?: {
    hostname: string;
    interfaces: { name: string; config_source: string; addresses: string[]; dhcp: boolean }[];
    dns_servers: string[];
    gateway: string | null;
  };
  security?: {
    selinux: { status: string; enabled: boolean };
    apparmor: { enabled: boolean; profiles?: number };
    firewall: Record<string, { installed: boolean; enabled: boolean }>;
    ssh: {
      installed?: boolean;
      permit_root_login: string | null;
      password_authentication: string | null;
      port?: number | null;
    };
  };
  storage?: {
    partitions: { device: string; number: number; size_bytes: number; filesystem: string }[];
    lvm: { pvs: string[]; vgs: string[]; lvs: string[] };
    fstab: { spec: string; mountpoint: string; type: string; options: string }[];
  };
  kernels?: { installed: string[]; default: string | null };
  databases?: { engine: string; version?: string; data_dir?: string }[];
  warnings?: string[];
  generated_at?: string;
}

/** One root of a multi-OS report: the report's own sections, without the image and envelope. */
export type RootView = Omit<InspectReport, 'image' | 'operating_systems' | 'roots' | 'generated_at'>;

export interface Finding {
  id: string;
  profile?: string;
  severity: Severity;
  title: string;
  description: string;
  remediation?: string;
  references?: string[];
}

export interface ProfileReport {
  image: { path: string };
  profiles: string[];
  operating_systems: OsInfo[];
  summary: { total_findings: number; by_severity: Record<Severity, number> };
  findings: Finding[];
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface ComparisonReport {
  baseline: { image: { path: string; format: string }; operating_system: OsInfo };
  target: { image: { path: string; format: string }; operating_system: OsInfo };
  summary: { identical: boolean; total_differences: number };
  operating_system: FieldChange[];
  packages: {
    added: { name: string; version: string; arch: string }[];
    removed: { name: string; version: string; arch: string }[];
    changed: { name: string; from: string; to: string; arch: string; direction: string }[];
    unchanged: number;
  } | null;
  services: { added: string[]; removed: string[]; enabled: string[]; disabled: string[] };
  users: {
    added: { name: string; uid: number; shell: string }[];
    removed: { name: string; uid: number; shell: string }[];
    changed: { name: string; changes: FieldChange[] }[];
  };
  kernels: { added: string[]; removed: string[] };
  network: FieldChange[];
  security: FieldChange[];
  config_files: {
    root: string;
    added: string[];
    removed: string[];
    changed: { path: string; diff?: string; diff_omitted?: string }[];
  } | null;
  recommendations?: { severity: Severity; category: string; message: string }[];
  warnings: string[];
}

// The comparison report of guestkit.compare: what changed from the baseline disk to the target.
import type { ImageInfo, OperatingSystemInfo } from '../inspect/report.js';
import type { Severity } from '../profile/types.js';

export interface FieldChange {
  /** Dotted path of the value (`ssh.permit_root_login`). */
  field: string;
  from: unknown;
  to: unknown;
}

export interface PackageRef {
  name: string;
  /** `[epoch:]version[-release]`. */
  version: string;
  arch: string;
}

export interface PackageChange {
  name: string;
  from: string;
  to: string;
  arch: string;
  /** Direction by package-version ordering (an arch-only change is `changed`). */
  direction: 'upgrade' | 'downgrade' | 'changed';
}

export interface PackagesDiff {
  added: PackageRef[];
  removed: PackageRef[];
  changed: PackageChange[];
  unchanged: number;
}

export interface ServicesDiff {
  /** Units present only in the target / only in the baseline. */
  added: string[];
  removed: string[];
  /** Enabled in the target but not in the baseline, and the reverse. */
  enabled: string[];
  disabled: string[];
}

export interface UserRef {
  name: string;
  uid: number;
  shell: string;
}

export interface UsersDiff {
  added: UserRef[];
  removed: UserRef[];
  changed: { name: string; changes: FieldChange[] }[];
}

export interface ConfigFileChange {
  path: string;
  baseline_sha256: string;
  target_sha256: string;
  baseline_size: number | null;
  target_size: number | null;
  /** `diff -u` of the two versions (small text files, when compare_config). */
  diff?: string;
  /** Why no diff was made: `binary`, `too_large`, `sensitive` (secrets: shadow, keys), `not_requested`. */
  diff_omitted?: 'binary' | 'too_large' | 'sensitive' | 'not_requested';
}

export interface FilesDiff {
  /** Directory compared (`/etc`, or `/` for compare_files). */
  root: string;
  compared: number;
  added: string[];
  removed: string[];
  changed: ConfigFileChange[];
  /** Mode / owner changes (and mtime unless ignore_timestamps) of files on both sides; absent for `/`. */
  metadata_changed?: { path: string; changes: FieldChange[] }[];
}

export interface Recommendation {
  severity: Severity;
  category: 'security' | 'packages' | 'services' | 'users' | 'config' | 'kernel' | 'system';
  message: string;
}

export interface ComparisonSide {
  image: ImageInfo;
  operating_system: OperatingSystemInfo;
}

export interface ComparisonReport {
  version: '1.0';
  baseline: ComparisonSide;
  target: ComparisonSide;
  summary: {
    identical: boolean;
    total_differences: number;
    operating_system: number;
    packages: { added: number; removed: number; changed: number };
    services: { added: number; removed: number; enabled: number; disabled: number };
    users: { added: number; removed: number; changed: number };
    config_files: { added: number; removed: number; changed: number } | null;
  };
  operating_system: FieldChange[];
  packages: PackagesDiff | null;
  services: ServicesDiff;
  users: UsersDiff;
  kernels: { added: string[]; removed: string[]; default: FieldChange | null };
  network: FieldChange[];
  security: FieldChange[];
  config_files: FilesDiff | null;
  files?: FilesDiff;
  recommendations?: Recommendation[];
  warnings: string[];
  timestamp: string;
}

export interface CompareOptions {
  compare_packages: boolean;
  compare_files: boolean;
  compare_config: boolean;
  ignore_timestamps: boolean;
  recommendations: boolean;
}

/** Result `data` of guestkit.compare. */
export interface CompareResultData {
  status: 'success';
  /** The report file, when output.destination asked for one. */
  output_file: string | null;
  summary: ComparisonReport['summary'];
  report: ComparisonReport;
}

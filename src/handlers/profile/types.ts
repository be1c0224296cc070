// Types of guestkit.profile (operations.md): findings, the profile report, and the facts the rules
// read: the inspection report of one root plus a few file-level facts the report does not carry.
import type { ImageInfo, InspectionReport, OperatingSystemInfo } from '../inspect/report.js';

import { PROFILE_NAMES, SEVERITIES } from '../../protocol/payloads/operations.js';

export { PROFILE_NAMES, SEVERITIES };
export type Severity = (typeof SEVERITIES)[number];

export type ProfileName = (typeof PROFILE_NAMES)[number];

/** What a rule saw: file paths, values, account names… (machine-readable, stable keys). */
export type Evidence = Record<string, string | number | boolean | null | string[]>;

export interface Finding {
  /** Stable check id (`CIS-SSH-001`); the same check on another root keeps its id. */
  id: string;
  profile: ProfileName;
  severity: Severity;
  title: string;
  description: string;
  evidence: Evidence;
  /** How to fix it; dropped when `output.include_remediation` is false. */
  remediation?: string;
  /** Benchmark / standard references (CIS, PCI-DSS…). */
  references: string[];
  /** Root device the finding is about, when the image holds more than one operating system. */
  root?: string;
}

export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
}

export interface ProfileReport {
  version: '1.0';
  image: ImageInfo;
  profiles: ProfileName[];
  /** The operating systems the profiles ran on (one per root). */
  operating_systems: OperatingSystemInfo[];
  summary: { total_findings: number; by_severity: SeverityCounts; severity_threshold: Severity };
  findings: Finding[];
  /** Checks that could not decide (a file unreadable…): never silently passed. */
  warnings: string[];
  timestamp: string;
}

/** File-level facts of one root that the inspection report does not carry. */
export interface ProfileFacts {
  /** PASS_MAX_DAYS of /etc/login.defs; null when the file or the key is missing. */
  passMaxDays: number | null;
  /** Regular files below /etc with the world-writable bit (o+w), with their octal mode. */
  worldWritableEtc: { path: string; mode: string }[];
  /** /tmp as found on the root filesystem (or declared tmpfs in fstab); null when absent. */
  tmp: { mode: string; sticky: boolean; source: 'filesystem' | 'fstab-tmpfs' } | null;
  /** Swap areas the guest activates at boot (fstab), with their size when known. */
  swap: { spec: string; size_bytes: number | null }[];
  /** virtio drivers the kernels carry, as modules (`virtio_blk`…) or built in. */
  virtio: {
    /** Per kernel version: virtio drivers shipped as loadable modules and built into the kernel. */
    kernels: Record<string, { modules: string[]; builtin: string[] }>;
    /** Per initramfs file: virtio driver names inside; absent when it could not be listed. */
    initramfs: Record<string, string[]>;
  };
  /** Problems met while collecting (unreadable file…), reported as profile warnings. */
  warnings: string[];
}

/** Everything the rules of one root look at. */
export interface RuleInput {
  report: InspectionReport;
  facts: ProfileFacts;
}

/** A profile: a name and the checks it runs over one root. */
export interface Profile {
  name: ProfileName;
  check(input: RuleInput): Finding[];
}

export interface ProfileOptions {
  severity_threshold: Severity;
  fail_on_critical: boolean;
}

export interface ProfileOutput {
  format: 'json' | 'yaml';
  destination: string | null;
  include_remediation: boolean;
}

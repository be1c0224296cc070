// Small readers over the inspection report that several profiles share.
import type { InspectionReport } from '../../inspect/report.js';
import type { Evidence, Finding, ProfileName, Severity } from '../types.js';

export interface FindingSpec {
  id: string;
  severity: Severity;
  title: string;
  description: string;
  evidence: Evidence;
  remediation: string;
  references?: string[];
}

export function finding(profile: ProfileName, spec: FindingSpec): Finding {
  return { ...spec, profile, references: spec.references ?? [] };
}

/** Installed package names (empty when the packages section is missing). */
export function packageNames(report: InspectionReport): Set<string> {
  return new Set((report.packages?.packages ?? []).map((p) => p.name));
}

/** Enabled unit / init-script names. */
export function enabledServices(report: InspectionReport): Set<string> {
  return new Set(report.services?.enabled ?? []);
}

/** Unit names without the `.service` suffix, for matching `sshd` against `sshd.service`. */
export function serviceBase(name: string): string {
  return name.replace(/\.(service|socket)$/, '').replace(/@$/, '');
}

const RHEL_FAMILY = new Set([
  'rhel',
  'redhat-based',
  'centos',
  'rocky',
  'almalinux',
  'fedora',
  'oraclelinux',
  'scientificlinux',
  'circle',
  'amazonlinux',
  'eurolinux',
  'openeuler',
]);

/** Distributions where SELinux is the expected mandatory access control. */
export function isRhelFamily(report: InspectionReport): boolean {
  return RHEL_FAMILY.has(report.operating_system.distribution);
}

export function anyInstalled(report: InspectionReport, names: readonly string[]): string[] {
  const installed = packageNames(report);
  return names.filter((n) => installed.has(n));
}

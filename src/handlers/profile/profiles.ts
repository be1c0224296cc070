// The profile catalogue and the engine: run the requested profiles over every root, filter by
// severity, count, and shape the report of operations.md.
import type { ImageInfo } from '../inspect/report.js';
import { complianceProfile } from './rules/compliance.js';
import { hardeningProfile } from './rules/hardening.js';
import { migrationProfile } from './rules/migration.js';
import { performanceProfile } from './rules/performance.js';
import { securityProfile } from './rules/security.js';
import {
  SEVERITIES,
  type Finding,
  type Profile,
  type ProfileName,
  type ProfileReport,
  type RuleInput,
  type Severity,
  type SeverityCounts,
} from './types.js';

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  security: securityProfile,
  compliance: complianceProfile,
  hardening: hardeningProfile,
  performance: performanceProfile,
  migration: migrationProfile,
};

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function countBySeverity(findings: readonly Finding[]): SeverityCounts {
  const counts: SeverityCounts = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

export interface EvaluateOptions {
  severityThreshold: Severity;
  includeRemediation: boolean;
  /** Fixed clock for tests. */
  now?: Date;
}

/**
 * Runs `profiles` over each root's inputs. Findings below the threshold are dropped; the rest are
 * ordered most severe first (then profile order, then id), so a reader sees what matters first.
 */
export function evaluateProfiles(
  image: ImageInfo,
  profiles: readonly ProfileName[],
  roots: readonly RuleInput[],
  options: EvaluateOptions,
): ProfileReport {
  const min = severityRank(options.severityThreshold);
  const findings: Finding[] = [];
  const warnings: string[] = [];
  for (const input of roots) {
    for (const name of profiles) {
      for (const f of PROFILES[name].check(input)) {
        if (severityRank(f.severity) < min) continue;
        const out: Finding = { ...f };
        if (roots.length > 1) out.root = input.report.operating_system.root;
        if (!options.includeRemediation) delete out.remediation;
        findings.push(out);
      }
    }
    const prefix = roots.length > 1 ? `${input.report.operating_system.root}: ` : '';
    for (const w of input.facts.warnings) warnings.push(prefix + w);
  }
  findings.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      profiles.indexOf(a.profile) - profiles.indexOf(b.profile) ||
      a.id.localeCompare(b.id),
  );
  return {
    version: '1.0',
    image,
    profiles: [...profiles],
    operating_systems: roots.map((r) => r.report.operating_system),
    summary: {
      total_findings: findings.length,
      by_severity: countBySeverity(findings),
      severity_threshold: options.severityThreshold,
    },
    findings,
    warnings,
    timestamp: (options.now ?? new Date()).toISOString(),
  };
}

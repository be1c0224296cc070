// The check engine: every check over the guest facts for one target, the score (weighted share
// of passed checks, held below 50 by any blocker), the verdict and, with `explain`, the failed
// checks in the order they would stop a boot.
import {
  bootloaderCheck,
  crypttabCheck,
  firmwareCheck,
  fstabCheck,
  initramfsPresenceCheck,
  serialConsoleCheck,
  virtioCheck,
} from './checks-boot.js';
import {
  cloudInitCheck,
  foreignToolsCheck,
  guestAgentCheck,
  nicBindingCheck,
  selinuxCheck,
} from './checks-system.js';
import type { DoctorFacts } from './facts.js';
import { TARGET_PROFILES, type Target } from './targets.js';
import type { CheckDefinition, CheckResult, DoctorResult, Finding, Verdict } from './types.js';

/** In boot order: the first failure in this list is what a console would show first. SELinux last: it judges the others. */
export const CHECKS: readonly CheckDefinition[] = [
  firmwareCheck,
  bootloaderCheck,
  initramfsPresenceCheck,
  virtioCheck,
  crypttabCheck,
  fstabCheck,
  nicBindingCheck,
  serialConsoleCheck,
  cloudInitCheck,
  foreignToolsCheck,
  guestAgentCheck,
  selinuxCheck,
];

export function scoreOf(checks: readonly Pick<CheckResult, 'passed' | 'severity' | 'weight'>[]): number {
  const total = checks.reduce((n, c) => n + c.weight, 0);
  if (total === 0) return 100;
  const earned = checks.filter((c) => c.passed).reduce((n, c) => n + c.weight, 0);
  const score = Math.round((100 * earned) / total);
  return checks.some((c) => !c.passed && c.severity === 'blocker')
    ? Math.min(49, Math.round(score / 2))
    : score;
}

export function verdictOf(score: number, checks: readonly CheckResult[]): Verdict {
  if (checks.some((c) => !c.passed && c.severity === 'blocker')) return 'will-not-boot';
  return score >= 90 && !checks.some((c) => !c.passed && c.severity === 'warning') ? 'ready' : 'needs-work';
}

const finding = (c: CheckResult): Finding => ({
  check_id: c.id,
  title: c.name,
  message: c.message,
  remediation: c.remediation,
});

export function runChecks(facts: DoctorFacts, target: Target): CheckResult[] {
  const profile = TARGET_PROFILES[target];
  const results: CheckResult[] = [];
  for (const def of CHECKS) {
    const outcome = def.run({ facts, target: profile, previous: results });
    results.push({ id: def.id, name: def.name, category: def.category, weight: def.weight, ...outcome });
  }
  return results;
}

function osOf(facts: DoctorFacts): DoctorResult['os'] {
  const os = facts.report.operating_system;
  return { type: os.type, distribution: os.distribution, version: os.version, root: os.root };
}

/** The doctor's answer for one root. Windows guests are detected and reported as not assessed. */
export function diagnose(facts: DoctorFacts, target: Target, explain = false): DoctorResult {
  if (facts.report.operating_system.type !== 'linux') {
    const os = facts.report.operating_system;
    return {
      target,
      score: null,
      verdict: 'not-assessed',
      summary: `${os.product_name || os.type} guest: the migration checks cover Linux guests only; nothing was assessed`,
      os: osOf(facts),
      blockers: [],
      warnings: [],
      checks: [],
      ...(explain ? { root_cause: { primary: null, chain: [] } } : {}),
    };
  }
  const checks = runChecks(facts, target);
  const score = scoreOf(checks);
  const verdict = verdictOf(score, checks);
  const failed = checks.filter((c) => !c.passed);
  const blockers = failed.filter((c) => c.severity === 'blocker');
  const result: DoctorResult = {
    target,
    score,
    verdict,
    summary:
      blockers.length > 0
        ? `Will not boot on ${target}: ${blockers.length} blocker(s), score ${score}`
        : `Score ${score} on ${target}${failed.length ? `, ${failed.length} check(s) to fix` : ''}`,
    os: osOf(facts),
    blockers: blockers.map(finding),
    warnings: failed.filter((c) => c.severity === 'warning').map(finding),
    checks,
  };
  if (explain) {
    // CHECKS is in boot order: the first failed blocker is where the boot stops.
    const chain = failed.map((c) => `${c.id} ${c.name}: ${c.message}`);
    result.root_cause = { primary: blockers[0] ? `${blockers[0].id}: ${blockers[0].message}` : null, chain };
  }
  return result;
}

// The shapes of guestkit.doctor and guestkit.migrate-plan results (spec: "Migration assurance").
import type { DoctorFacts } from './facts.js';
import type { TargetProfile } from './targets.js';

export type Severity = 'blocker' | 'warning' | 'info';
export type Category = 'driver' | 'storage' | 'boot' | 'network' | 'security';

/** A step that makes a failed check pass: a guestkit.fix / guestkit.repair operation. */
export interface FixAction {
  type: string;
  options?: Record<string, unknown>;
}

export interface CheckResult {
  /** Stable id (`BOOT-001`…). */
  id: string;
  name: string;
  category: Category;
  passed: boolean;
  /** What a failure means: blocker (will not boot), warning (boots, something breaks), info. */
  severity: Severity;
  weight: number;
  /** One sentence: what was found. */
  message: string;
  /** What was read, where, and what it said. */
  evidence: { read: string[] } & Record<string, unknown>;
  /** What to do about a failure (null when passed). */
  remediation: string | null;
  /** Operations that fix it automatically; empty when only a person can. */
  fix: FixAction[];
}

export interface CheckContext {
  facts: DoctorFacts;
  target: TargetProfile;
  /** Results of the checks that ran before (SELinux judges the changes the others call for). */
  previous?: readonly CheckResult[];
}

export interface CheckDefinition {
  id: string;
  name: string;
  category: Category;
  weight: number;
  run(ctx: CheckContext): Omit<CheckResult, 'id' | 'name' | 'category' | 'weight'>;
}

export interface Finding {
  check_id: string;
  title: string;
  message: string;
  remediation: string | null;
}

export type Verdict = 'ready' | 'needs-work' | 'will-not-boot' | 'not-assessed';

export interface DoctorResult {
  target: string;
  /** 0–100; null when the guest was not assessed (Windows). */
  score: number | null;
  verdict: Verdict;
  summary: string;
  os: { type: string; distribution: string; version: string; root: string };
  blockers: Finding[];
  warnings: Finding[];
  checks: CheckResult[];
  /** With `explain`: the failed checks in the order they stop a boot, and why. */
  root_cause?: { primary: string | null; chain: string[] };
}

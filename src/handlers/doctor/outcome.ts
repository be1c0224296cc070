// A check's outcome, passed or failed: what every check returns (id, name, category and weight
// come from its definition).
import type { CheckResult, FixAction } from './types.js';

export type Outcome = Omit<CheckResult, 'id' | 'name' | 'category' | 'weight'>;

export const pass = (message: string, evidence: Outcome['evidence']): Outcome => ({
  passed: true,
  severity: 'info',
  message,
  evidence,
  remediation: null,
  fix: [],
});

export const fail = (
  severity: Outcome['severity'],
  message: string,
  evidence: Outcome['evidence'],
  remediation: string,
  fix: FixAction[] = [],
): Outcome => ({ passed: false, severity, message, evidence, remediation, fix });

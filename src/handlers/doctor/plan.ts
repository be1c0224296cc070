// The ordered fix plan of a diagnosis: one step per operation that makes failed checks pass
// (guestkit.fix operations, so a plan can be run by guestkit.repair or submitted as guestkit.fix),
// then what only a person can do. Steps are merged per operation type and ordered so each one
// finds what the previous left (names fixed before the initramfs is rebuilt, relabel last).
import { scoreOf, verdictOf } from './evaluate.js';
import type { Category, CheckResult, DoctorResult, FixAction } from './types.js';

export interface PlanStep {
  id: string;
  action: string;
  reason: string;
  /** The guestkit.fix / guestkit.repair operation; null for a manual step. */
  operation: FixAction | null;
  /** Checks this step makes pass. */
  fixes: string[];
  /** Undone by restoring the source image (repair never writes it before validation). */
  undoable: boolean;
}

export interface MigrationPlan {
  target: string;
  score: number | null;
  verdict: DoctorResult['verdict'];
  /** Per category: score of its checks and how many failed. */
  categories: Record<Category, { score: number; failed: number; checks: string[] }>;
  steps: PlanStep[];
  /** Score once the automatic steps ran (the checks they fix counted as passed). */
  predicted_score: number | null;
  predicted_verdict: DoctorResult['verdict'];
}

const ORDER = [
  'fstab_stable_names',
  'bootloader_cmdline',
  'initramfs_add_drivers',
  'network_portable',
  'service_disable',
  'service_enable',
  'selinux_autorelabel',
];

const ACTIONS: Record<string, string> = {
  fstab_stable_names: 'Rewrite /etc/fstab bus names (/dev/sdX) to UUID=',
  bootloader_cmdline: 'Edit the kernel command line in the boot loader configuration',
  initramfs_add_drivers: 'Add the target drivers to the initramfs',
  network_portable: 'Unbind network configuration from MAC addresses and slot names',
  service_disable: 'Disable the old platform’s guest tools',
  service_enable: 'Enable the target’s guest agent',
  selinux_autorelabel: 'Relabel SELinux contexts at first boot',
};

function merge(a: FixAction, b: FixAction): FixAction {
  const options: Record<string, unknown> = { ...(a.options ?? {}) };
  for (const [k, v] of Object.entries(b.options ?? {})) {
    const prev = options[k];
    options[k] = Array.isArray(prev) && Array.isArray(v) ? [...new Set([...prev, ...v])] : v;
  }
  return Object.keys(options).length ? { type: a.type, options } : { type: a.type };
}

export function planOf(diagnosis: DoctorResult): MigrationPlan {
  const failed = diagnosis.checks.filter((c) => !c.passed);
  const auto = new Map<string, { op: FixAction; checks: CheckResult[] }>();
  for (const c of failed) {
    for (const op of c.fix) {
      const have = auto.get(op.type);
      if (have) {
        have.op = merge(have.op, op);
        have.checks.push(c);
      } else auto.set(op.type, { op, checks: [c] });
    }
  }
  const ordered = [...auto.values()].sort((a, b) => ORDER.indexOf(a.op.type) - ORDER.indexOf(b.op.type));
  const steps: PlanStep[] = ordered.map(({ op, checks }, i) => ({
    id: `step-${i + 1}`,
    action: ACTIONS[op.type] ?? op.type,
    reason: checks.map((c) => `${c.id}: ${c.message}`).join('; '),
    operation: op,
    fixes: checks.map((c) => c.id),
    undoable: true,
  }));
  for (const c of failed.filter((c) => c.fix.length === 0)) {
    steps.push({
      id: `step-${steps.length + 1}`,
      action: c.remediation ?? `Fix ${c.name}`,
      reason: `${c.id}: ${c.message}`,
      operation: null,
      fixes: [c.id],
      undoable: false,
    });
  }
  const fixed = new Set(steps.filter((s) => s.operation).flatMap((s) => s.fixes));
  const after = diagnosis.checks.map((c) => (fixed.has(c.id) ? { ...c, passed: true } : c));
  const categories = {} as MigrationPlan['categories'];
  for (const cat of ['driver', 'storage', 'boot', 'network', 'security'] as const) {
    const of = diagnosis.checks.filter((c) => c.category === cat);
    categories[cat] = {
      score: scoreOf(of),
      failed: of.filter((c) => !c.passed).length,
      checks: of.map((c) => c.id),
    };
  }
  const assessed = diagnosis.score !== null;
  return {
    target: diagnosis.target,
    score: diagnosis.score,
    verdict: diagnosis.verdict,
    categories,
    steps,
    predicted_score: assessed ? scoreOf(after) : null,
    predicted_verdict: assessed ? verdictOf(scoreOf(after), after) : 'not-assessed',
  };
}

/** The plan as a guestkit.fix payload's `operations` (automatic steps only). */
export function fixOperations(plan: MigrationPlan): FixAction[] {
  return plan.steps.flatMap((s) => (s.operation ? [s.operation] : []));
}

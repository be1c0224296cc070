// performance profile: memory pressure headroom, tuning daemons and boot-time service load.
import type { Finding, Profile, RuleInput } from '../types.js';
import { enabledServices, finding, packageNames } from './common.js';

const f = finding.bind(null, 'performance');

/** Swap smaller than this share of the disk is too small to absorb a memory spike. */
export const TINY_SWAP_RATIO = 0.01;
/** More enabled units than this slows boot and wastes memory on a single-purpose VM. */
export const MANY_SERVICES = 40;

function swapCheck({ report, facts }: RuleInput): Finding[] {
  if (report.operating_system.type !== 'linux') return [];
  if (facts.swap.length === 0) {
    return [
      f({
        id: 'PERF-SWAP-001',
        severity: 'low',
        title: 'No swap configured',
        description: 'The guest activates no swap: a memory spike goes straight to the OOM killer.',
        evidence: { fstab_swap_entries: 0 },
        remediation: 'Add a swap partition or swap file (or zram) and list it in /etc/fstab.',
      }),
    ];
  }
  const known = facts.swap.filter((s) => s.size_bytes !== null);
  const total = known.reduce((n, s) => n + (s.size_bytes ?? 0), 0);
  const disk = report.image.virtual_size_bytes;
  if (known.length === facts.swap.length && disk > 0 && total < disk * TINY_SWAP_RATIO) {
    return [
      f({
        id: 'PERF-SWAP-002',
        severity: 'info',
        title: 'Swap is tiny',
        description: `Swap totals ${total} bytes, under ${TINY_SWAP_RATIO * 100}% of the ${disk}-byte disk.`,
        evidence: { swap: facts.swap.map((s) => s.spec), swap_bytes: total, disk_bytes: disk },
        remediation: "Grow the swap area (or add zram) to a size that matches the workload's memory.",
      }),
    ];
  }
  return [];
}

function tuningChecks({ report }: RuleInput): Finding[] {
  if (report.operating_system.type !== 'linux' || !report.packages) return [];
  const installed = packageNames(report);
  const out: Finding[] = [];
  if (!installed.has('tuned')) {
    out.push(
      f({
        id: 'PERF-TUNED-001',
        severity: 'info',
        title: 'tuned not installed',
        description:
          'No tuned profile adapts kernel settings (I/O scheduler, dirty ratios) to a virtual guest.',
        evidence: { package: 'tuned', installed: false },
        remediation: 'Install tuned and select the virtual-guest profile: tuned-adm profile virtual-guest.',
      }),
    );
  }
  if (!installed.has('irqbalance')) {
    out.push(
      f({
        id: 'PERF-IRQ-001',
        severity: 'info',
        title: 'irqbalance not installed',
        description: 'Interrupts of multi-queue virtio devices stay on one vCPU without irqbalance.',
        evidence: { package: 'irqbalance', installed: false },
        remediation: 'Install irqbalance and enable irqbalance.service on guests with several vCPUs.',
      }),
    );
  }
  return out;
}

function serviceCountCheck({ report }: RuleInput): Finding[] {
  const enabled = enabledServices(report);
  if (enabled.size <= MANY_SERVICES) return [];
  return [
    f({
      id: 'PERF-SVC-001',
      severity: 'low',
      title: 'Many services enabled',
      description: `${enabled.size} units start at boot (more than ${MANY_SERVICES}).`,
      evidence: { enabled_count: enabled.size, enabled: [...enabled].sort() },
      remediation: 'Disable the services this VM does not need: systemctl disable <unit>.',
    }),
  ];
}

export const performanceProfile: Profile = {
  name: 'performance',
  check: (input) => [...swapCheck(input), ...tuningChecks(input), ...serviceCountCheck(input)],
};

// The fix operations are a small registry: each one is a named step run inside the job's single
// appliance, on the writable overlay. Library users and tests add their own steps with
// `register` (e.g. a deliberately breaking step to prove validate_before_commit works).
import type { Guestfs } from '../../../lib/guestfs.js';
import { WorkerError } from '../../protocol/errors.js';
import type { Obj } from '../payload-fields.js';

/** What inspection said about the guest being fixed. */
export interface GuestOs {
  root: string;
  type: string;
  distro: string;
  productName: string;
  arch: string;
  hostname: string;
  majorVersion: number;
  minorVersion: number;
  /** mountpoint → device. */
  mountpoints: Record<string, string>;
  filesystems: string[];
}

export interface FixOperationContext<TOptions> {
  g: Guestfs;
  os: GuestOs;
  options: TOptions;
  signal: AbortSignal;
  /** One line for this operation's log (kept in the report). */
  log(line: string): void;
}

export type FixStatus = 'success' | 'failed' | 'skipped';

export interface FixOutcome {
  status: FixStatus;
  /** One sentence for humans: what was done, or what is wrong and how to fix it. */
  message: string;
  /** Whether the guest was modified. */
  changed: boolean;
  details?: Record<string, unknown>;
}

export interface FixOperation<TOptions = unknown> {
  type: string;
  description: string;
  /**
   * 'mounted': the guest's filesystems are mounted read-write under / while it runs.
   * 'unmounted': nothing mounted (filesystem checkers need exclusive devices).
   */
  needs: 'mounted' | 'unmounted';
  /** Checks `options` at submission (no I/O); throw a ValidationError to refuse the job. */
  validateOptions(options: Obj, field: string): TOptions;
  /** Runs in the appliance. A throw counts as `failed` with the error's message. */
  run(ctx: FixOperationContext<TOptions>): Promise<FixOutcome>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: operations are invariant in TOptions
export type AnyFixOperation = FixOperation<any>;

export class FixOperationRegistry {
  private readonly ops = new Map<string, AnyFixOperation>();

  register(op: AnyFixOperation, options: { replace?: boolean } = {}): this {
    if (this.ops.has(op.type) && !options.replace) {
      throw new WorkerError(
        'VALIDATION_ERROR',
        `A fix operation '${op.type}' is already registered (pass { replace: true } to replace it)`,
      );
    }
    this.ops.set(op.type, op);
    return this;
  }

  get(type: string): AnyFixOperation | undefined {
    return this.ops.get(type);
  }

  types(): string[] {
    return [...this.ops.keys()].sort();
  }

  clone(): FixOperationRegistry {
    const copy = new FixOperationRegistry();
    for (const op of this.ops.values()) copy.register(op);
    return copy;
  }
}

/** Host architecture in libguestfs' words (`inspect_get_arch`). */
export function hostArch(): string {
  const map: Record<string, string> = {
    x64: 'x86_64',
    arm64: 'aarch64',
    ia32: 'i386',
    arm: 'armv7l',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[process.arch] ?? process.arch;
}

/** RHEL-family distros (libguestfs distro names) that keep HOSTNAME= in /etc/sysconfig/network. */
export const RHEL_FAMILY = new Set([
  'rhel',
  'centos',
  'fedora',
  'rocky',
  'almalinux',
  'oraclelinux',
  'scientificlinux',
  'redhat-based',
  'circle',
  'openeuler',
]);

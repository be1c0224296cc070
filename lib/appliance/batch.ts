// The pool's internal records: a request (one run() call) and a batch (the requests one appliance
// serves). Shared by pool.ts, which moves them through their states, and lease.ts / roots.ts.
import type { Guestfs } from '../guestfs.js';
import { ApplianceError } from './errors.js';
import type { Reservation } from './reservations.js';
import type { RootMap } from './roots.js';
import type { ApplianceLease, ApplianceStage, ProbedDrive } from './types.js';

export interface Request {
  id: number;
  drives: ProbedDrive[];
  /** This request's drives in its appliance (`/dev/sdc`…), set once the appliance is up. */
  devices: string[] | undefined;
  fn: (lease: ApplianceLease) => Promise<unknown>;
  group: string;
  shareable: boolean;
  /** Re-queued alone after a conflict or a failed shared launch: never shared again. */
  solo: boolean;
  signal: AbortSignal | undefined;
  onStage: ((stage: ApplianceStage) => void) | undefined;
  /** Aborted when the request is dropped (cancel/timeout) or its appliance dies. */
  lease: AbortController;
  settled: boolean;
  batch: Batch | undefined;
  /** The reservation whose drives (already in the appliance) this request took over. */
  claimed?: Reservation<Batch>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  detach(): void;
}

export type BatchState = 'collecting' | 'waiting' | 'launching' | 'running' | 'closing';

export interface Batch {
  id: number;
  group: string;
  shareable: boolean;
  requests: Request[];
  state: BatchState;
  timer: NodeJS.Timeout | undefined;
  guestfs: Guestfs | undefined;
  roots: Promise<RootMap> | undefined;
  /** True while a lease callback runs (they run one at a time). */
  busy: boolean;
  killed: boolean;
  /** Drives added at launch (requests' and reservations'). */
  attached: number;
  /** Set while the appliance, its work done, waits for reserved jobs (see the pool's #idle). */
  linger: NodeJS.Timeout | undefined;
}

/** Thrown inside a lease when its drive must be inspected in an appliance of its own. */
export class SoloRetry extends Error {}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new ApplianceError('CANCELLED', 'The request was cancelled');
}

export function driveCount(requests: readonly Pick<Request, 'drives'>[]): number {
  return requests.reduce((n, r) => n + r.drives.length, 0);
}

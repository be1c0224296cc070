// The appliance pool's public shapes: what a job asks for, what it gets, how the pool is set up.
import type { Logger } from 'pino';
import type { GuestfsApplication2 } from '../generated/actions.js';
import type { Guestfs, GuestfsOptions } from '../guestfs.js';
import type { BlockView, OsFacts } from '../inspection/index.js';

/** One disk a job needs in the appliance. */
export interface DriveRequest {
  path: string;
  /** Declared format; the pool checks it against what `qemu-img info` detects (never libguestfs probing). */
  format?: string;
  /** Default true: writes go to a throw-away overlay. */
  readonly?: boolean;
}

/** What the pool learned about a drive before adding it (qemu-img info). */
export interface ProbedDrive {
  path: string;
  /** Detected format as qemu names it (`raw`, `qcow2`, `vmdk`, `vdi`, `vhdx`). */
  format: string;
  virtualSizeBytes: number;
  /** Bytes the image file occupies on the host. */
  actualSizeBytes: number;
  readonly: boolean;
}

/** A request's share of an appliance, valid inside the `run` callback only. */
export interface ApplianceLease {
  /** The shared handle; use only inside the lease callback. */
  readonly guestfs: Guestfs;
  /** This lease's drives in the appliance (e.g. `['/dev/sdc']`), in request order. */
  readonly devices: readonly string[];
  /** This lease's drives as probed, in request order. */
  readonly drives: readonly ProbedDrive[];
  /** inspect_os roots on this lease's drives (inspect_os runs once per appliance, cached). */
  roots(): Promise<string[]>;
  /** Roots per drive, in request order (compare: baseline roots, target roots). */
  rootsByDrive(): Promise<string[][]>;
  /**
   * Mountpoints of a root as they are in this appliance. Use these, not inspect_get_mountpoints:
   * an fstab naming `/dev/sda1` means the image's own first disk, which libguestfs would take as
   * the appliance's first drive (another job's disk) when the image is not first.
   */
  mountpoints(root: string): Promise<Record<string, string>>;
  /**
   * Filesystems of a root (inspect_get_filesystems) as they are in this appliance, for the same
   * reason as {@link mountpoints}: fstab `/dev/sda2` or a UUID= shared with a clone would name
   * another job's drive.
   */
  filesystems(root: string): Promise<string[]>;
  /** The inspect_get_* facts of a root (from the fast inspection or libguestfs). */
  os(root: string): Promise<OsFacts>;
  /**
   * inspect_list_applications2 of a root, which must be mounted (as for libguestfs): read from
   * the guest's package database when the fast inspection found the root.
   */
  applications(root: string): Promise<GuestfsApplication2[]>;
  /** Block-device calls (blkid, sizes, partition tables, PVs) answered from what inspection read. */
  blocks(): Promise<BlockView>;
  /** Aborted when the job is cancelled/timed out or the appliance died. */
  readonly signal: AbortSignal;
}

export type ApplianceStage = 'queued' | 'launching' | 'ready';

export interface RunOptions {
  signal?: AbortSignal;
  /** May this request share an appliance with other requests of its group? Default true. */
  shareable?: boolean;
  /** Isolation key (worker pool / namespace): only requests of one group share an appliance. */
  group?: string;
  onStage?(stage: ApplianceStage): void;
  /** Refuse drives whose virtual size is larger (VALIDATION_ERROR) before anything launches. */
  maxVirtualSizeBytes?: number;
  /** The key of this job's {@link AppliancePool.reserve} reservation: its drives may already be up. */
  reservation?: string;
}

export type ReserveOptions = Pick<RunOptions, 'group' | 'shareable' | 'maxVirtualSizeBytes'> & {
  /** Aborting it releases the reservation (the job left the queue without running). */
  signal?: AbortSignal;
};

export interface AppliancePoolOptions {
  /** Drives per appliance (default 8). */
  maxDrivesPerAppliance?: number;
  /** Appliances running at once (default: the number of cores). */
  maxAppliances?: number;
  /** How long a new batch waits for more requests before launching (default 300 ms). */
  batchWindowMs?: number;
  /**
   * How long an appliance with no work left waits for reserved jobs to claim their drives
   * (default 2000 ms, see the constructor). It yields its slot at once when a batch waits for one.
   */
  reservationLingerMs?: number;
  /** False: every request gets an appliance of its own (untrusted tenants). Default true. */
  sharing?: boolean;
  /**
   * False: always inspect with libguestfs' inspect_os (~5 s a disk under TCG) instead of the fast
   * inspection of lib/inspection, which falls back to it by itself for guests it does not know.
   * Default true.
   */
  fastInspection?: boolean;
  /** Handle options for every appliance (backend, memsize…). */
  guestfs?: GuestfsOptions;
  /** Creates the (unlaunched) handle of an appliance; default `new Guestfs(options)`. Tests swap it. */
  createHandle?: (options: GuestfsOptions) => Guestfs;
  /** Checks and describes a drive before it is queued; default {@link probeImage}. */
  probe?: (drive: DriveRequest) => Promise<ProbedDrive>;
  logger?: Logger;
  /** Called after every launch attempt (for metrics: launches, boot time, failures). */
  onLaunched?: (event: ApplianceLaunchEvent) => void;
}

/** One appliance launch attempt, as {@link AppliancePoolOptions.onLaunched} reports it. */
export interface ApplianceLaunchEvent {
  /** Seconds from creating the handle to the appliance answering (or failing). */
  seconds: number;
  /** Drives attached, reserved ones included. */
  drives: number;
  ok: boolean;
}

export interface AppliancePoolStatus {
  /** Appliances launching or running. */
  appliances: number;
  /** Drives attached to those appliances. */
  drives: number;
  /** Requests waiting for an appliance. */
  queued: number;
  /** Requests whose appliance is launching or whose lease is active / waiting its turn. */
  running: number;
  launches: number;
  launchFailures: number;
  /** Drives of pending jobs attached to those appliances, waiting for their job to claim them. */
  reserved: number;
}

// Appliance pool: one libguestfs launch (~15 s under TCG) serves many drives, and a few launches
// run side by side. Jobs ask for drives with `run(drives, fn)`; the pool gathers pending requests
// into batches, launches one appliance per batch and hands each request a lease on its own drives.
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { pino, type Logger } from 'pino';
import { WorkerError, type ProtocolErrorCode } from '../src/protocol/errors.js';
import { ReservationBook, sameDrives, type Reservation } from './appliance-reservations.js';
import type { GuestfsApplication2 } from './generated/actions.js';
import { diskOfDevice } from './devices.js';
import { Guestfs, type GuestfsOptions } from './guestfs.js';
import {
  BlockView,
  inspectAppliance,
  installedApplications,
  osFacts,
  type BlockCache,
  type OsFacts,
} from './inspection/index.js';

export { diskOfDevice };

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

/** Formats an appliance may be given (qemu names); `img` in job payloads means raw. */
export const DRIVE_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx'] as const;

/**
 * What went wrong with an image or an appliance: a WorkerError, so a handler can let it fail its
 * job as is (`code` is the protocol code, `phase` where it happened).
 */
export class ApplianceError extends WorkerError {
  constructor(
    code: ProtocolErrorCode,
    message: string,
    options: {
      phase?: string;
      details?: Record<string, unknown>;
      recoverable?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(code, message, { phase: 'disk_attach', ...options });
    this.name = 'ApplianceError';
  }
}

const execFileP = promisify(execFile);

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { type: string; data?: { 'data-file'?: string; extents?: { filename: string }[] } };
}

/** Formats whose metadata `qemu-img check` validates (cheap: metadata only, no data reads). */
const CHECKABLE_FORMATS = new Set(['qcow2', 'vdi', 'vhdx']);

/**
 * Refuses an image with corrupt metadata before it reaches an appliance: qemu would fail the whole
 * shared launch with a generic message, costing every drive of the batch a retry.
 */
async function checkImage(given: string, path: string, format: string): Promise<void> {
  try {
    await execFileP('qemu-img', ['check', '-U', '-f', format, '--output=json', path], {
      timeout: 120_000,
      maxBuffer: 8 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: number | string };
    // 3: leaked clusters only (harmless for reading); 63: check not supported for this image.
    if (e.code === 3 || e.code === 63) return;
    const lines = (e.stderr ?? e.message).split('\n').map((l) => l.trim());
    const reason =
      lines.find((l) => /image is corrupt/i.test(l)) ??
      lines.find((l) => l.startsWith('qemu-img:') && !/check failed/i.test(l)) ??
      lines.find((l) => l.length > 0) ??
      'metadata check failed';
    throw new ApplianceError('APPLIANCE_ERROR', `Image ${given} is corrupt (${format}): ${reason}`, {
      details: { path, format, qemu_message: reason },
      cause: err,
    });
  }
}

/**
 * Detects an image's format with `qemu-img info` (a child process, so a hostile header never runs
 * in the appliance's probing) and refuses what could make qemu read outside the image: backing
 * files, external data files, VMDK extents elsewhere. A declared format must match the detected one.
 */
export async function probeImage(drive: DriveRequest): Promise<ProbedDrive> {
  const path = resolvePath(drive.path);
  let info: QemuImgInfo;
  try {
    const { stdout } = await execFileP('qemu-img', ['info', '--output=json', '-U', path], {
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    info = JSON.parse(stdout) as QemuImgInfo;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT' && !e.stderr) {
      throw new ApplianceError('APPLIANCE_ERROR', 'qemu-img is not installed; install qemu-utils', {
        cause: err,
      });
    }
    const msg = (e.stderr ?? e.message).trim();
    if (/No such file/i.test(msg)) {
      throw new ApplianceError('IMAGE_NOT_FOUND', `Image not found: ${drive.path}`, { details: { path } });
    }
    throw new ApplianceError('APPLIANCE_ERROR', `qemu-img cannot read ${drive.path}: ${msg}`, {
      details: { path, qemu_message: msg },
      cause: err,
    });
  }
  const detected = info.format;
  if (info['backing-filename'] || info['full-backing-filename']) {
    throw new ApplianceError(
      'PATH_NOT_ALLOWED',
      `Image ${drive.path} has a backing file (${info['backing-filename'] ?? info['full-backing-filename']}); ` +
        'images must be self-contained: flatten it with `qemu-img convert` first',
      { details: { path, backing_file: info['backing-filename'] ?? info['full-backing-filename'] } },
    );
  }
  const specific = info['format-specific']?.data;
  if (specific?.['data-file']) {
    throw new ApplianceError(
      'PATH_NOT_ALLOWED',
      `Image ${drive.path} stores its data in an external file (${specific['data-file']}); convert it first`,
      { details: { path, data_file: specific['data-file'] } },
    );
  }
  for (const extent of specific?.extents ?? []) {
    if (resolvePath(extent.filename) !== path) {
      throw new ApplianceError(
        'PATH_NOT_ALLOWED',
        `VMDK ${drive.path} reads an extent from another file (${extent.filename}); use a monolithic VMDK`,
        { details: { path, extent: extent.filename } },
      );
    }
  }
  if (!(DRIVE_FORMATS as readonly string[]).includes(detected)) {
    throw new ApplianceError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `Image ${drive.path} is in format '${detected}'; supported: ${DRIVE_FORMATS.join(', ')}`,
      { details: { path, detected_format: detected } },
    );
  }
  const declared = drive.format === 'img' ? 'raw' : drive.format;
  if (declared && declared !== detected) {
    throw new ApplianceError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `Image ${drive.path} was declared '${drive.format}' but is '${detected}'; fix image.format or omit it`,
      { details: { path, declared_format: drive.format, detected_format: detected } },
    );
  }
  if (CHECKABLE_FORMATS.has(detected)) await checkImage(drive.path, path, detected);
  return {
    path,
    format: detected,
    virtualSizeBytes: info['virtual-size'],
    actualSizeBytes: info['actual-size'] ?? 0,
    readonly: drive.readonly ?? true,
  };
}

// ---- pool internals

interface Request {
  id: number;
  drives: ProbedDrive[];
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

type BatchState = 'collecting' | 'waiting' | 'launching' | 'running' | 'closing';

interface RootMap {
  /** Roots per appliance device (`/dev/sdb` → roots). */
  byDevice: Map<string, string[]>;
  /** Mountpoints per root, with guest device names (`/dev/sda1` in fstab) moved onto the root's drive. */
  mountpoints: Map<string, Record<string, string>>;
  /** Filesystems per root, moved onto the root's drive like the mountpoints. */
  filesystems: Map<string, string[]>;
  /** Devices whose results cannot be trusted in a shared appliance (clone UUIDs, duplicate VGs). */
  conflicted: Set<string>;
  /** The fast inspection's facts per root; undefined when inspect_os answered (ask libguestfs). */
  facts: Map<string, OsFacts> | undefined;
  /** What the fast inspection read of the block devices (undefined: ask libguestfs). */
  blocks: BlockCache | undefined;
}

interface Batch {
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
  /** Set while the appliance, its work done, waits for reserved jobs (see #idle). */
  linger: NodeJS.Timeout | undefined;
}

/** Thrown inside a lease when its drive must be inspected in an appliance of its own. */
class SoloRetry extends Error {}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new ApplianceError('CANCELLED', 'The request was cancelled');
}

function driveCount(requests: readonly Request[]): number {
  return requests.reduce((n, r) => n + r.drives.length, 0);
}

/**
 * Runs libguestfs work for many jobs on few appliances. See the file comment; the shared pool of
 * the worker is {@link getSharedAppliancePool}.
 */
export class AppliancePool {
  readonly maxDrivesPerAppliance: number;
  readonly maxAppliances: number;
  readonly batchWindowMs: number;
  readonly reservationLingerMs: number;
  readonly sharing: boolean;
  readonly fastInspection: boolean;
  readonly #guestfsOptions: GuestfsOptions;
  readonly #createHandle: (options: GuestfsOptions) => Guestfs;
  readonly #probe: (drive: DriveRequest) => Promise<ProbedDrive>;
  readonly #log: Logger;
  readonly #batches = new Set<Batch>();
  readonly #book = new ReservationBook<Batch>();
  #nextId = 1;
  #launches = 0;
  #launchFailures = 0;
  #closed = false;
  #pumpTimer: NodeJS.Timeout | undefined;

  constructor(options: AppliancePoolOptions = {}) {
    this.maxDrivesPerAppliance = Math.max(1, options.maxDrivesPerAppliance ?? 8);
    this.maxAppliances = Math.max(1, options.maxAppliances ?? availableParallelism());
    this.batchWindowMs = Math.max(0, options.batchWindowMs ?? 300);
    // A reserved job starts within milliseconds of a worker slot freeing, but then writes the
    // finished job's result (fsync), resolves its path and runs qemu-img info/check: process
    // spawns that take 0.1-0.5 s on cores saturated by TCG. 2 s covers that with a margin and is
    // a fifth of the launch a miss costs; an appliance lingering in vain only keeps a slot that
    // nothing else waits for (it yields at once when a batch waits, see #pump).
    this.reservationLingerMs = Math.max(0, options.reservationLingerMs ?? 2000);
    this.sharing = options.sharing ?? true;
    this.fastInspection = options.fastInspection ?? true;
    this.#guestfsOptions = options.guestfs ?? {};
    this.#createHandle = options.createHandle ?? ((o) => new Guestfs(o));
    this.#probe = options.probe ?? probeImage;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'appliance-pool' });
  }

  /**
   * Attaches `drives` (all in the same appliance) and calls `fn` with a lease on them once the
   * appliance is up and it is this request's turn. Resolves with fn's result; rejects with an
   * ApplianceError for a bad image or a failed launch, or with the signal's reason when aborted
   * (at once: a cancelled request never waits for the appliance).
   */
  async run<T>(
    drives: DriveRequest[],
    fn: (lease: ApplianceLease) => Promise<T>,
    options: RunOptions = {},
  ): Promise<T> {
    if (this.#closed) throw new ApplianceError('APPLIANCE_ERROR', 'The appliance pool is closed');
    if (drives.length === 0) throw new ApplianceError('APPLIANCE_ERROR', 'run() needs at least one drive');
    options.signal?.throwIfAborted();
    // The job runs now: a reservation no appliance holds yet is no use any more.
    const key = options.reservation;
    if (key !== undefined && !this.#book.get(key)?.holder) this.#book.take(key);
    const probed = await Promise.all(drives.map((d) => this.#probe(d)));
    options.signal?.throwIfAborted();
    for (const d of probed) {
      const limit = options.maxVirtualSizeBytes ?? Number.POSITIVE_INFINITY;
      if (d.virtualSizeBytes > limit) {
        const gb = (n: number) => (n / 1024 ** 3).toFixed(1);
        throw new ApplianceError(
          'VALIDATION_ERROR',
          `${d.path} has a virtual size of ${gb(d.virtualSizeBytes)} GB, above the ${gb(limit)} GB limit`,
          {
            phase: 'validation',
            details: { path: d.path, virtual_size_bytes: d.virtualSizeBytes, limit_bytes: limit },
          },
        );
      }
      if (d.virtualSizeBytes === 0) {
        throw new ApplianceError(
          'NO_OPERATING_SYSTEM',
          `Image ${d.path} is empty (0 bytes): it holds no operating system`,
          {
            phase: 'disk_inspection',
            details: { path: d.path },
          },
        );
      }
    }
    if (this.#closed) throw new ApplianceError('APPLIANCE_ERROR', 'The appliance pool is closed');
    return new Promise<T>((resolve, reject) => {
      const signal = options.signal;
      const req: Request = {
        id: this.#nextId++,
        drives: probed,
        fn: fn as (lease: ApplianceLease) => Promise<unknown>,
        group: options.group ?? 'default',
        shareable: this.sharing && (options.shareable ?? true),
        solo: false,
        signal,
        onStage: options.onStage,
        lease: new AbortController(),
        settled: false,
        batch: undefined,
        resolve: (v) => {
          if (req.settled) return;
          req.settled = true;
          req.detach();
          resolve(v as T);
        },
        reject: (e) => {
          if (req.settled) return;
          req.settled = true;
          req.detach();
          reject(e);
        },
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      const onAbort = () => this.#drop(req, abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.#claim(req, key)) this.#enqueue(req);
    });
  }

  /**
   * Holds `drives` for a job that will call run() later (pending in a worker's queue): the next
   * launch of its group with room attaches them, so that run() (with `reservation: key`) is
   * served by that appliance without a launch of its own. Best effort: false when the drives
   * cannot be reserved (probe failure, too large, not shareable) — run() then reports why.
   * Ends with {@link release}, the signal, the job's run(), or unclaimed after the linger time.
   */
  async reserve(key: string, drives: DriveRequest[], options: ReserveOptions = {}): Promise<boolean> {
    const { signal } = options;
    if (this.#closed || !this.sharing || options.shareable === false || drives.length === 0) return false;
    if (signal?.aborted) return false;
    const token = this.#book.begin(key);
    const onAbort = () => {
      if (this.#book.tokenOf(key) === token) this.release(key);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const probed = await Promise.all(drives.map((d) => this.#probe(d)));
      const limit = options.maxVirtualSizeBytes ?? Number.POSITIVE_INFINITY;
      if (probed.some((d) => d.virtualSizeBytes > limit || d.virtualSizeBytes === 0)) {
        if (this.#book.tokenOf(key) === token) this.#book.take(key);
        return false;
      }
      return this.#book.add(token, key, probed, options.group ?? 'default');
    } catch {
      if (this.#book.tokenOf(key) === token) this.#book.take(key);
      return false;
    }
  }

  /** The job of `key` will not run (cancelled, gone from the queue): its reservation ends. */
  release(key: string): void {
    const res = this.#book.take(key);
    const b = res?.holder;
    if (!b || this.#book.of(b).length > 0 || b.requests.some((r) => !r.settled)) return;
    // It was the appliance's last reason to live.
    if (b.linger) void this.#endLinger(b);
    else if (b.state === 'launching' && b.guestfs && !b.killed) {
      b.killed = true;
      b.guestfs.kill();
    }
  }

  status(): AppliancePoolStatus {
    let appliances = 0;
    let drives = 0;
    let queued = 0;
    let running = 0;
    let reserved = 0;
    for (const b of this.#batches) {
      const live = b.requests.filter((r) => !r.settled);
      if (b.state === 'collecting' || b.state === 'waiting') {
        queued += live.length;
      } else {
        appliances++;
        drives += b.attached;
        running += live.length;
        reserved += this.#book.of(b).reduce((n, res) => n + res.drives.length, 0);
      }
    }
    return {
      appliances,
      drives,
      queued,
      running,
      launches: this.#launches,
      launchFailures: this.#launchFailures,
      reserved,
    };
  }

  /** Rejects queued requests, kills every appliance and waits until each handle is closed. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pumpTimer);
    this.#book.clear();
    const closing: Promise<void>[] = [];
    for (const b of [...this.#batches]) {
      clearTimeout(b.timer);
      clearTimeout(b.linger);
      const err = new ApplianceError('APPLIANCE_ERROR', 'The appliance pool was closed (worker stopping)', {
        recoverable: true,
      });
      for (const r of b.requests) {
        r.lease.abort(err);
        r.reject(err);
      }
      if (b.guestfs) {
        b.guestfs.kill();
        closing.push(b.guestfs.close().catch(() => undefined));
      }
      this.#batches.delete(b);
    }
    await Promise.all(closing);
  }

  // -- batching

  #enqueue(req: Request): void {
    req.onStage?.('queued');
    const total = req.drives.length;
    if (req.shareable && !req.solo) {
      for (const b of this.#batches) {
        if (
          (b.state === 'collecting' || b.state === 'waiting') &&
          b.shareable &&
          b.group === req.group &&
          driveCount(b.requests) + total <= this.maxDrivesPerAppliance
        ) {
          b.requests.push(req);
          req.batch = b;
          if (driveCount(b.requests) >= this.maxDrivesPerAppliance && b.state === 'collecting') {
            this.#windowClosed(b);
          }
          return;
        }
      }
    }
    const batch = this.#newBatch(req.group, req.shareable && !req.solo, [req]);
    if (batch.shareable && this.batchWindowMs > 0 && total < this.maxDrivesPerAppliance) {
      batch.timer = setTimeout(() => this.#windowClosed(batch), this.batchWindowMs);
    } else {
      this.#windowClosed(batch);
    }
  }

  #newBatch(group: string, shareable: boolean, requests: Request[]): Batch {
    const b: Batch = {
      id: this.#nextId++,
      group,
      shareable,
      requests,
      state: 'collecting',
      timer: undefined,
      guestfs: undefined,
      roots: undefined,
      busy: false,
      killed: false,
      attached: 0,
      linger: undefined,
    };
    for (const r of requests) r.batch = b;
    this.#batches.add(b);
    return b;
  }

  #windowClosed(b: Batch): void {
    clearTimeout(b.timer);
    b.timer = undefined;
    if (b.state === 'collecting') b.state = 'waiting';
    this.#pump();
  }

  /** Launches waiting batches while appliance slots are free. */
  #pump(): void {
    if (this.#closed) return;
    for (;;) {
      const active = [...this.#batches].filter(
        (b) => b.state === 'launching' || b.state === 'running',
      ).length;
      const waiting = [...this.#batches].filter((b) => b.state === 'waiting');
      const free = this.maxAppliances - active;
      if (free <= 0 && waiting.length > 0) {
        // A batch needs a slot: appliances lingering for reserved jobs give theirs up.
        for (const b of this.#batches) if (b.linger) void this.#endLinger(b);
      }
      if (free <= 0 || waiting.length === 0) return;
      const next = waiting[0];
      // Idle slots are wasted cores: spread one big batch over them (drives in different
      // appliances are inspected in parallel; the launches overlap too).
      const parts = Math.min(free - (waiting.length - 1), next.requests.length);
      const launching = [next];
      if (parts > 1 && next.shareable) {
        const groups: Request[][] = Array.from({ length: parts }, () => []);
        for (const r of next.requests) {
          groups.reduce((min, g) => (driveCount(g) < driveCount(min) ? g : min)).push(r);
        }
        next.requests = groups[0];
        for (const g of groups.slice(1)) {
          const b = this.#newBatch(next.group, true, g);
          b.state = 'launching';
          launching.push(b);
        }
      }
      next.state = 'launching';
      this.#attachReserved(launching);
      for (const b of launching) void this.#launch(b);
    }
  }

  /** Fills the room left in appliances about to launch with reserved drives: oldest first, evenly. */
  #attachReserved(batches: Batch[]): void {
    const open = batches.filter((b) => b.shareable);
    if (open.length === 0) return;
    const load = new Map(open.map((b) => [b, driveCount(b.requests)]));
    for (const res of this.#book.waiting(open[0].group)) {
      const fits = open.filter((b) => load.get(b)! + res.drives.length <= this.maxDrivesPerAppliance);
      if (fits.length === 0) continue;
      const b = fits.reduce((min, x) => (load.get(x)! < load.get(min)! ? x : min));
      res.holder = b;
      load.set(b, load.get(b)! + res.drives.length);
    }
  }

  /** run() of a job whose drives a live appliance already holds: it joins that appliance's queue. */
  #claim(req: Request, key: string | undefined): boolean {
    const live = (b: Batch) => (b.state === 'launching' || b.state === 'running') && !b.killed;
    const fits = (res: Reservation<Batch>) =>
      res.holder !== undefined &&
      live(res.holder) &&
      res.group === req.group &&
      sameDrives(res.drives, req.drives);
    let res = key === undefined ? undefined : this.#book.get(key);
    if (res && (!req.shareable || !fits(res))) {
      this.release(res.key);
      res = undefined;
    }
    if (!req.shareable) return false;
    res ??= this.#book.find(req.drives, req.group, live);
    if (!res) return false;
    this.#book.take(res.key);
    const b = res.holder!;
    req.claimed = res;
    req.batch = b;
    if (res.devices) (req as Request & { devices?: string[] }).devices = res.devices;
    b.requests.push(req);
    if (b.state === 'launching') {
      req.onStage?.('launching');
    } else {
      req.onStage?.('ready');
      if (b.linger) {
        clearTimeout(b.linger);
        b.linger = undefined;
        void this.#serve(b);
      }
    }
    return true;
  }

  /** A settled stand-in for a reservation among the appliance's requests: never served or waited for. */
  #placeholder(res: Reservation<Batch>, b: Batch): Request {
    const none = () => undefined;
    return {
      id: this.#nextId++,
      drives: [...res.drives],
      fn: async () => undefined,
      group: res.group,
      shareable: true,
      solo: false,
      signal: undefined,
      onStage: undefined,
      lease: new AbortController(),
      settled: true,
      batch: b,
      resolve: none,
      reject: none,
      detach: none,
    };
  }

  /** Its work done: the appliance closes, or lingers a while for reserved jobs still to come. */
  async #idle(b: Batch): Promise<void> {
    const all = [...this.#batches];
    const slotWanted =
      all.some((x) => x.state === 'waiting') &&
      all.filter((x) => x.state === 'launching' || x.state === 'running').length >= this.maxAppliances;
    if (b.killed || this.#closed || slotWanted || this.#book.of(b).length === 0) return this.#endLinger(b);
    b.linger = setTimeout(() => void this.#endLinger(b), this.reservationLingerMs);
  }

  /** Unclaimed reservations become void (their jobs launch as usual later); the appliance closes. */
  #endLinger(b: Batch): Promise<void> {
    clearTimeout(b.linger);
    b.linger = undefined;
    for (const res of this.#book.of(b)) this.#book.take(res.key);
    return this.#finish(b);
  }

  // -- appliance life

  async #launch(b: Batch): Promise<void> {
    const live = b.requests.filter((r) => !r.settled);
    const reserved = this.#book.of(b);
    if (live.length === 0) {
      for (const res of reserved) res.holder = undefined; // back to waiting for a launch
      b.requests = live;
      this.#batches.delete(b);
      this.#pump();
      return;
    }
    // Reserved drives come after the requests' drives; their settled stand-ins keep the device
    // mapping, and #mapRoots' view of what shares the appliance, right.
    const attached = [...live, ...reserved.map((res) => this.#placeholder(res, b))];
    b.requests = [...attached];
    b.attached = driveCount(attached);
    for (const r of live) r.onStage?.('launching');
    const started = performance.now();
    const g = this.#createHandle(this.#guestfsOptions);
    b.guestfs = g;
    this.#launches++;
    try {
      for (const r of attached) {
        for (const d of r.drives) {
          await g.addDrive(d.path, { readonly: d.readonly, format: d.format });
        }
      }
      await g.launch();
      const devices = await g.listDevices();
      let i = 0;
      for (const r of attached) {
        const mine = devices.slice(i, i + r.drives.length);
        i += r.drives.length;
        (r as Request & { devices?: string[] }).devices = mine;
      }
      for (const [n, res] of reserved.entries()) {
        res.devices = (attached[live.length + n] as Request & { devices?: string[] }).devices;
      }
      for (const r of b.requests) {
        // Claimed while launching (a claim re-queued alone is mapped above, as it launched anew).
        if (r.claimed && !attached.includes(r))
          (r as Request & { devices?: string[] }).devices = r.claimed.devices;
      }
    } catch (err) {
      this.#launchFailures++;
      await g.close().catch(() => undefined);
      b.guestfs = undefined;
      this.#batches.delete(b);
      this.#reservedLaunchFailed(b, reserved, err);
      this.#pump();
      return;
    }
    this.#log.info(
      {
        batch: b.id,
        drives: driveCount(live),
        requests: live.length,
        ms: Math.round(performance.now() - started),
      },
      'appliance launched',
    );
    b.state = 'running';
    if (b.requests.every((r) => r.settled)) {
      await this.#idle(b);
      return;
    }
    for (const r of b.requests) if (!r.settled) r.onStage?.('ready');
    await this.#serve(b);
  }

  /**
   * A launch with reserved drives failed: they are void (their jobs get their own verdict when
   * they run); claims are requests like the others. When qemu named none of the requests' drives,
   * a reserved one may be to blame: the requests try again together, without it.
   */
  #reservedLaunchFailed(b: Batch, reserved: Reservation<Batch>[], err: unknown): void {
    for (const res of reserved) if (this.#book.get(res.key) === res) this.#book.take(res.key);
    for (const r of b.requests) r.claimed = undefined;
    const message = err instanceof Error ? err.message : String(err);
    const live = b.requests.filter((r) => !r.settled);
    const named = live.some((r) => r.drives.some((d) => message.includes(d.path)));
    const killed = b.killed || (err as { code?: string }).code === 'EKILLED';
    if (reserved.length === 0 || killed || named || live.length === 0) {
      this.#launchFailed(b, err);
      return;
    }
    this.#log.warn(
      { batch: b.id, err: message },
      'launch with reserved drives failed; retrying without them',
    );
    this.#newBatch(b.group, b.shareable, live).state = 'waiting';
  }

  /** A shared launch failed: blame the drive qemu named, retry the others; else split them up. */
  #launchFailed(b: Batch, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const live = b.requests.filter((r) => !r.settled);
    const killed = b.killed || (err as { code?: string }).code === 'EKILLED';
    if (killed) {
      for (const r of live) r.reject(abortReason(r.lease.signal));
      return;
    }
    const culprits = live.filter((r) => r.drives.some((d) => message.includes(d.path)));
    const fail = (r: Request) =>
      r.reject(
        new ApplianceError(
          'APPLIANCE_ERROR',
          `The appliance could not start with ${r.drives.map((d) => d.path).join(', ')}: ${message}`,
          {
            details: { paths: r.drives.map((d) => d.path), qemu_message: message },
            cause: err,
          },
        ),
      );
    if (live.length === 1 && live[0].solo) {
      fail(live[0]);
      return;
    }
    if (live.length === 1 && culprits.length <= 1) {
      fail(live[0]);
      return;
    }
    this.#log.warn(
      { batch: b.id, err: message, culprits: culprits.map((r) => r.id) },
      'shared launch failed; retrying',
    );
    for (const r of culprits) fail(r);
    const rest = live.filter((r) => !culprits.includes(r));
    if (culprits.length > 0) {
      // The named drive is out: the others can share again.
      if (rest.length > 0) {
        const retry = this.#newBatch(b.group, b.shareable, rest);
        retry.state = 'waiting';
      }
    } else {
      // Nobody named: each request alone, so each gets its own verdict.
      for (const r of rest) {
        r.solo = true;
        this.#newBatch(r.group, false, [r]).state = 'waiting';
      }
    }
  }

  /** Runs the leases one at a time (they share mounts), each answered as soon as it is done. */
  async #serve(b: Batch): Promise<void> {
    const g = b.guestfs!;
    for (const r of b.requests) {
      if (r.settled) continue;
      if (b.killed) break;
      b.busy = true;
      const devices = (r as Request & { devices?: string[] }).devices ?? [];
      const lease = this.#lease(b, r, g, devices);
      let needsSolo = false;
      try {
        const value = await r.fn(lease);
        if (lease.soloNeeded) needsSolo = true;
        else r.resolve(value);
      } catch (err) {
        if (lease.soloNeeded || err instanceof SoloRetry) needsSolo = true;
        else r.reject(err);
      } finally {
        b.busy = false;
      }
      if (needsSolo && !r.settled) {
        this.#log.info(
          { request: r.id, paths: r.drives.map((d) => d.path) },
          'drive conflicts with others in its appliance; inspecting it alone',
        );
        r.solo = true;
        const again = this.#newBatch(r.group, false, [r]);
        again.state = 'waiting';
      }
      // umount_all between tenants: nothing a lease mounted stays visible to the next.
      await g.umountAll().catch(() => undefined);
    }
    await this.#idle(b);
  }

  #lease(b: Batch, r: Request, g: Guestfs, devices: string[]): ApplianceLease & { soloNeeded: boolean } {
    const rootsByDrive = async (): Promise<string[][]> => {
      b.roots ??= this.#mapRoots(b, g);
      const map = await b.roots;
      if (devices.some((d) => map.conflicted.has(d)) && !r.solo) {
        lease.soloNeeded = true;
        throw new SoloRetry('drive needs an appliance of its own');
      }
      return devices.map((d) => map.byDevice.get(d) ?? []);
    };
    const lease = {
      guestfs: g,
      devices,
      drives: r.drives,
      signal: r.lease.signal,
      soloNeeded: false,
      rootsByDrive,
      roots: async () => (await rootsByDrive()).flat(),
      mountpoints: async (root: string) => {
        await rootsByDrive();
        return { ...((await b.roots!).mountpoints.get(root) ?? (await g.inspectGetMountpoints(root))) };
      },
      filesystems: async (root: string) => {
        await rootsByDrive();
        return [...((await b.roots!).filesystems.get(root) ?? (await g.inspectGetFilesystems(root)))];
      },
      os: async (root: string) => {
        await rootsByDrive();
        return (await b.roots!).facts?.get(root) ?? (await osFacts(g, root));
      },
      applications: async (root: string) => {
        await rootsByDrive();
        return installedApplications(g, root, (await b.roots!).facts?.get(root));
      },
      blocks: async () => {
        await rootsByDrive();
        return new BlockView(g, (await b.roots!).blocks);
      },
    };
    return lease;
  }

  /**
   * inspect_os once for the whole appliance, roots mapped to drives. In a shared appliance,
   * clones of one image collide: fstab UUID= resolves to another drive's filesystem and duplicate
   * LVM volume groups stay inactive. Such drives are flagged for an appliance of their own.
   */
  async #mapRoots(b: Batch, g: Guestfs): Promise<RootMap> {
    // inspect_os costs ~5 s a disk under TCG; the fast inspection gives its answers in well under
    // one for the guests it knows, and says when it does not.
    const started = performance.now();
    const inspected = this.fastInspection ? await inspectAppliance(g) : undefined;
    const fast = inspected?.roots;
    const roots = fast ? fast.map((r) => r.root) : await g.inspectOs();
    this.#log.info(
      {
        batch: b.id,
        roots: roots.length,
        by: fast ? 'fast' : 'inspect_os',
        ms: Math.round(performance.now() - started),
      },
      'appliance inspected',
    );
    const byDevice = new Map<string, string[]>();
    const mountpoints = new Map<string, Record<string, string>>();
    const filesystems = new Map<string, string[]>();
    const conflicted = new Set<string>();
    const lvDisks = new Map<string, string[]>();
    const shared = driveCount(b.requests) > 1;
    const diskOf = async (dev: string): Promise<string[]> => {
      const disk = diskOfDevice(dev);
      if (/^\/dev\/([shvx]d[a-z]+|nvme\d+n\d+)$/.test(disk)) return [disk];
      // A logical volume: the disks of its volume group's PVs.
      if (!lvDisks.has(dev)) lvDisks.set(dev, await this.#lvDisks(g, dev));
      return lvDisks.get(dev)!;
    };
    /** A device libguestfs resolved for a root on `disks`, moved onto those disks if it can be. */
    const place = async (dev: string, disks: string[]): Promise<string | undefined> => {
      const on = await diskOf(dev).catch(() => disks);
      if (on.every((d) => disks.includes(d))) return dev;
      const byName = /^(btrfsvol:)?\/dev\/sda(\d*(\/.*)?)$/.exec(dev);
      // The guest's own first disk (fstab by device name), not the appliance's.
      if (byName && disks.length === 1) return `${byName[1] ?? ''}${disks[0]}${byName[2]}`;
      return undefined; // fstab UUID=/LABEL= resolved into another drive
    };
    const [allMps, allFs] = fast
      ? [fast.map((r) => r.mountpoints), fast.map((r) => r.filesystems)]
      : await Promise.all([
          Promise.all(roots.map((r) => g.inspectGetMountpoints(r))),
          Promise.all(roots.map((r) => g.inspectGetFilesystems(r))),
        ]);
    /** Devices of each root on its own drive(s), for the duplicate-UUID check. */
    const own = new Map<string, string[]>();
    for (const [i, root] of roots.entries()) {
      const disks = await diskOf(root);
      for (const disk of disks) byDevice.set(disk, [...(byDevice.get(disk) ?? []), root]);
      if (disks.length > 1 && shared) for (const d of disks) conflicted.add(d);
      const mps: Record<string, string> = {};
      for (const [mp, dev] of Object.entries(allMps[i])) {
        const at = await place(dev, disks);
        if (mp === '/') mps[mp] = at === dev ? dev : root;
        else if (at) mps[mp] = at;
        else {
          // A clone of this image shares the appliance: libguestfs' view of it cannot be trusted.
          for (const d of disks) conflicted.add(d);
          mps[mp] = dev;
        }
      }
      mountpoints.set(root, mps);
      // The filesystem '/' was resolved to is the root itself, wherever libguestfs found it.
      const rootFrom = allMps[i]['/'];
      const fses: string[] = [];
      const placed: string[] = [root];
      for (const dev of allFs[i]) {
        const at = dev === rootFrom || dev === root ? root : await place(dev, disks);
        if (at === undefined) {
          // e.g. swap by UUID= found on a clone's drive: a report would describe another disk.
          for (const d of disks) conflicted.add(d);
          fses.push(dev);
        } else if (!fses.includes(at)) {
          fses.push(at);
          placed.push(at);
        }
      }
      filesystems.set(root, fses);
      own.set(root, placed);
    }
    if (shared) {
      const pvs = await g.pvs().catch(() => [] as string[]);
      for (const pv of pvs) {
        const disk = diskOfDevice(pv);
        if (!byDevice.has(disk)) conflicted.add(disk);
      }
      // The fast inspection looks UUIDs up on the root's own drive first: clones stay apart.
      if (!fast) for (const d of await this.#cloneDisks(b, g, own, diskOf, conflicted)) conflicted.add(d);
    }
    return {
      byDevice,
      mountpoints,
      filesystems,
      conflicted,
      facts: fast ? new Map(fast.map((r) => [r.root, r.facts])) : undefined,
      blocks: inspected?.blocks,
    };
  }

  /**
   * Drives holding a filesystem UUID that a drive of an earlier request in the appliance also
   * holds: clones. Their fstab UUID=/LABEL= may resolve to the other copy (blkid picks one), so
   * all copies but one are inspected again alone: the first whose filesystems all resolved onto
   * its own drive (`conflicted` already holds the others). Drives of one request (compare of two
   * copies) are not split: alone they would collide the same way.
   */
  async #cloneDisks(
    b: Batch,
    g: Guestfs,
    own: Map<string, string[]>,
    diskOf: (dev: string) => Promise<string[]>,
    conflicted: ReadonlySet<string>,
  ): Promise<string[]> {
    const requestOf = new Map<string, number>();
    for (const [n, r] of b.requests.entries()) {
      for (const d of (r as Request & { devices?: string[] }).devices ?? []) requestOf.set(d, n);
    }
    const devices = [...new Set([...own.values()].flat())];
    // btrfsvol:/dev/sda2/@ → /dev/sda2 (subvolumes share their filesystem's UUID).
    const blockOf = (dev: string) => dev.replace(/^btrfsvol:(\/dev\/[^/]+)\/.*$/, '$1');
    const uuids = await Promise.all(
      devices.map(async (dev) => {
        const uuid = await g.vfsUuid(blockOf(dev)).catch(() => '');
        return { uuid, disks: await diskOf(dev).catch(() => [] as string[]) };
      }),
    );
    /** UUID → the request that keeps the shared appliance (holds it first, resolved cleanly). */
    const first = new Map<string, number>();
    for (const { uuid, disks } of uuids) {
      for (const d of disks) {
        const n = requestOf.get(d);
        if (!uuid || n === undefined || conflicted.has(d)) continue;
        first.set(uuid, Math.min(first.get(uuid) ?? n, n));
      }
    }
    const out: string[] = [];
    for (const { uuid, disks } of uuids) {
      for (const d of disks) {
        const n = requestOf.get(d);
        if (uuid && n !== undefined && n !== first.get(uuid)) out.push(d);
      }
    }
    return out;
  }

  async #lvDisks(g: Guestfs, lv: string): Promise<string[]> {
    try {
      const canonical = await g.lvmCanonicalLvName(lv);
      const vg = canonical.split('/')[2];
      const uuids = new Set(await g.vgpvuuids(vg));
      const out: string[] = [];
      for (const pv of await g.pvs()) {
        if (uuids.has(await g.pvuuid(pv))) out.push(diskOfDevice(pv));
      }
      return out;
    } catch {
      return [];
    }
  }

  /** A request left (cancel/timeout): its result is dropped; the appliance dies if nobody else needs it. */
  #drop(req: Request, reason: unknown): void {
    if (req.settled) return;
    req.lease.abort(reason);
    req.reject(reason);
    const b = req.batch;
    if (!b) return;
    if (b.state === 'collecting' || b.state === 'waiting') {
      b.requests = b.requests.filter((r) => r !== req);
      if (b.requests.length === 0) {
        clearTimeout(b.timer);
        this.#batches.delete(b);
      }
      return;
    }
    if (b.requests.every((r) => r.settled) && this.#book.of(b).length === 0 && b.guestfs && !b.killed) {
      b.killed = true;
      this.#log.info({ batch: b.id }, 'last request of the appliance left; killing it');
      b.guestfs.kill();
    }
  }

  async #finish(b: Batch): Promise<void> {
    if (b.state === 'closing') return;
    b.state = 'closing';
    const g = b.guestfs;
    try {
      if (g) {
        // Read-only drives are throw-away overlays: nothing to sync, so no graceful shutdown to
        // wait for and the slot frees sooner. A writable drive gets the orderly close.
        if (b.killed || b.requests.every((r) => r.drives.every((d) => d.readonly))) g.kill();
        await g.close().catch(() => undefined);
      }
    } finally {
      this.#batches.delete(b);
      this.#log.debug({ batch: b.id }, 'appliance closed');
      this.#pumpSoon();
    }
  }

  /**
   * A slot freed because jobs finished, and finished jobs let their worker start new ones that
   * are still probing their images: wait one batch window so they join the next launch instead
   * of needing a launch of their own.
   */
  #pumpSoon(): void {
    if (![...this.#batches].some((b) => b.state === 'waiting')) return;
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = setTimeout(() => this.#pump(), this.batchWindowMs);
  }
}

let shared: AppliancePool | undefined;
let sharedOptions: AppliancePoolOptions = {};

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Environment overrides: GUESTKIT_APPLIANCE_DRIVES, GUESTKIT_APPLIANCES, GUESTKIT_APPLIANCE_BATCH_MS,
 * GUESTKIT_APPLIANCE_LINGER_MS, GUESTKIT_APPLIANCE_SHARING=0, GUESTKIT_FAST_INSPECTION=0.
 */
function envPoolOptions(): AppliancePoolOptions {
  const o: AppliancePoolOptions = {};
  const drives = envNumber('GUESTKIT_APPLIANCE_DRIVES');
  const appliances = envNumber('GUESTKIT_APPLIANCES');
  const windowMs = envNumber('GUESTKIT_APPLIANCE_BATCH_MS');
  const lingerMs = envNumber('GUESTKIT_APPLIANCE_LINGER_MS');
  if (lingerMs !== undefined) o.reservationLingerMs = lingerMs;
  if (drives !== undefined) o.maxDrivesPerAppliance = drives;
  if (appliances !== undefined) o.maxAppliances = appliances;
  if (windowMs !== undefined) o.batchWindowMs = windowMs;
  if (process.env.GUESTKIT_APPLIANCE_SHARING === '0') o.sharing = false;
  if (process.env.GUESTKIT_FAST_INSPECTION === '0') o.fastInspection = false;
  return o;
}

/**
 * The worker's pool, created on first use (handlers of every operation share it, so their drives
 * batch together). `configureSharedAppliancePool` sets its options before that first use.
 */
export function getSharedAppliancePool(): AppliancePool {
  shared ??= new AppliancePool({ ...envPoolOptions(), ...sharedOptions });
  return shared;
}

/** Options for the shared pool; applies to the next pool created (after close, too). */
export function configureSharedAppliancePool(options: AppliancePoolOptions): void {
  sharedOptions = { ...sharedOptions, ...options };
}

/** Status of the shared pool without creating it. */
export function sharedAppliancePoolStatus(): AppliancePoolStatus | null {
  return shared ? shared.status() : null;
}

/** Closes the shared pool (worker stop): no qemu survives. The next use creates a new pool. */
export async function closeSharedAppliancePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}

/**
 * Worker stop: closes the shared pool when no job of any worker in this process still uses it
 * (several workers may share one process in tests and embeddings).
 */
export async function closeSharedAppliancePoolIfIdle(): Promise<boolean> {
  const s = shared?.status();
  if (!s || s.running > 0 || s.queued > 0) return false;
  await closeSharedAppliancePool();
  return true;
}

// Appliance pool: one libguestfs launch (~15 s under TCG) serves many drives, and a few launches
// run side by side. Jobs ask for drives with `run(drives, fn)`; the pool gathers pending requests
// into batches, launches one appliance per batch and hands each request a lease on its own drives.
// Records: batch.ts; leases: lease.ts; which root is whose: roots.ts; reservations of pending
// jobs: reservations.ts; image checks before anything is queued: probe.ts.
import { availableParallelism } from 'node:os';
import { pino, type Logger } from 'pino';
import { Guestfs, type GuestfsOptions } from '../guestfs.js';
import { abortReason, driveCount, SoloRetry, type Batch, type Request } from './batch.js';
import { ApplianceError } from './errors.js';
import { DriveHolds, namesPath } from './holds.js';
import { createLease } from './lease.js';
import { probeImage } from './probe.js';
import { ReservationBook, sameDrives, type Reservation } from './reservations.js';
import { mapRoots } from './roots.js';
import type {
  ApplianceLease,
  ApplianceLaunchEvent,
  AppliancePoolOptions,
  AppliancePoolStatus,
  DriveRequest,
  ProbedDrive,
  ReserveOptions,
  RunOptions,
} from './types.js';

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
  readonly #onLaunched: ((event: ApplianceLaunchEvent) => void) | undefined;
  readonly #batches = new Set<Batch>();
  readonly #book = new ReservationBook<Batch>();
  #nextId = 1;
  #launches = 0;
  #launchFailures = 0;
  #closed = false;
  #pumpTimer: NodeJS.Timeout | undefined;

  constructor(options: AppliancePoolOptions = {}) {
    this.#onLaunched = options.onLaunched;
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
        devices: undefined,
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
    if (res.devices) req.devices = res.devices;
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
      devices: undefined,
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
    const holds = new DriveHolds();
    try {
      await this.#launchHeld(b, holds);
    } finally {
      await holds.release();
    }
  }

  async #launchHeld(b: Batch, holds: DriveHolds): Promise<void> {
    const requests = b.requests.filter((r) => !r.settled);
    const reservations = this.#book.of(b);
    await holds.take([...requests, ...reservations].flatMap((x) => x.drives));
    // Who is still here once the drives are held: a job that left meanwhile is not attached (its
    // descriptors may be closed already). A job still here keeps its own descriptors open, so a
    // drive the pool could not re-open (EMFILE…) is attached by the job's path instead. A
    // reservation whose drive could not be re-opened is void: its job probes again when it runs.
    for (const res of reservations) {
      if (holds.failure(res.drives) && this.#book.get(res.key) === res) this.#book.take(res.key);
    }
    const live = requests.filter((r) => !r.settled);
    // Jobs that claimed a reservation of this batch meanwhile: served on its drives.
    const claims = b.requests.filter((r) => !requests.includes(r) && !r.settled);
    const reserved = reservations.filter(
      (res) => this.#book.get(res.key) === res || claims.some((r) => r.claimed === res),
    );
    const claimed = claims.filter((r) => !r.settled);
    if (live.length === 0 && claimed.length === 0) {
      for (const res of reserved) res.holder = undefined; // back to waiting for a launch
      b.requests = live;
      this.#batches.delete(b);
      this.#pump();
      return;
    }
    // Reserved drives come after the requests' drives; their settled stand-ins keep the device
    // mapping, and mapRoots' view of what shares the appliance, right.
    const attached = [...live, ...reserved.map((res) => this.#placeholder(res, b))];
    b.requests = [...attached, ...claimed];
    b.attached = driveCount(attached);
    for (const r of live) r.onStage?.('launching');
    const started = performance.now();
    const g = this.#createHandle(this.#guestfsOptions);
    b.guestfs = g;
    this.#launches++;
    try {
      for (const r of attached) {
        for (const d of r.drives) {
          await g.addDrive(holds.path(d.path), { readonly: d.readonly, format: d.format });
        }
      }
      await g.launch();
      const devices = await g.listDevices();
      void holds.release(); // qemu has the files open now
      let i = 0;
      for (const r of attached) {
        const mine = devices.slice(i, i + r.drives.length);
        i += r.drives.length;
        r.devices = mine;
      }
      for (const [n, res] of reserved.entries()) {
        res.devices = attached[live.length + n].devices;
      }
      for (const r of b.requests) {
        // Claimed while launching (a claim re-queued alone is mapped above, as it launched anew).
        if (r.claimed && !attached.includes(r)) r.devices = r.claimed.devices;
      }
      this.#launched(started, b.attached, true);
    } catch (caught) {
      // qemu names the pool's descriptors; blame is by the jobs' paths.
      const err =
        caught instanceof Error ? Object.assign(caught, { message: holds.explain(caught.message) }) : caught;
      await holds.release();
      this.#launchFailures++;
      this.#launched(started, b.attached, false);
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
    const named = live.some((r) => r.drives.some((d) => namesPath(message, d.path)));
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
  #launched(started: number, drives: number, ok: boolean): void {
    try {
      this.#onLaunched?.({ seconds: (performance.now() - started) / 1000, drives, ok });
    } catch (err) {
      this.#log.warn({ err }, 'appliance launch listener failed');
    }
  }

  #launchFailed(b: Batch, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const live = b.requests.filter((r) => !r.settled);
    const killed = b.killed || (err as { code?: string }).code === 'EKILLED';
    if (killed) {
      for (const r of live) r.reject(abortReason(r.lease.signal));
      return;
    }
    const culprits = live.filter((r) => r.drives.some((d) => namesPath(message, d.path)));
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
      const lease = createLease(b, r, g, () =>
        mapRoots(g, b, { fastInspection: this.fastInspection, log: this.#log }),
      );
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

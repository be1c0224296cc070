// The libguestfs handle for JS: every generated action (lib/generated/actions.ts) plus the
// conveniences callers expect: open-and-launch, a typed inspection summary, mounting an
// inspected root, events and disposal. Every call runs on the handle's own native thread.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeImage } from './appliance/probe.js';
import { GuestfsActions, type RawActions } from './generated/actions.js';
import { guestfsAddon } from './native.js';

export * from './generated/actions.js';

/** A failed libguestfs call (or an argument the binding refused). */
export class GuestfsError extends Error {
  /** errno name when libguestfs gave one (`ENOENT`…), else a binding code: `EGUESTFS` (no errno),
   * `ENOTLAUNCHED`/`ELAUNCHED` (wrong handle state), `ECLOSED`, `EKILLED` (after kill()), `EINVAL`
   * (bad argument), `ELIBACC` (libguestfs is not installed: the message says what to install). */
  readonly code: string;
  /** The errno libguestfs reported, 0 when none. */
  readonly errno: number;
  /** The libguestfs action that failed (`launch`, `cat`…). */
  readonly action: string;
  constructor(message: string, details: { code: string; errno: number; action: string }) {
    super(message);
    this.name = 'GuestfsError';
    this.code = details.code;
    this.errno = details.errno;
    this.action = details.action;
  }
}

/** How a handle is set up; defaults come from the environment, read once per handle creation. */
export interface GuestfsOptions {
  /** libguestfs backend; default `direct`. */
  backend?: string;
  /** Default `['force_tcg']` (this kind of host has no usable KVM); `[]` for KVM. */
  backendSettings?: readonly string[];
  /** Appliance memory in MiB. */
  memsize?: number;
  /** Appliance virtual CPUs. */
  smp?: number;
  /** Where libguestfs puts its temporary files (overlays, sockets' dirs); default an app-owned
   * `<os tmpdir>/guestkit-worker-<uid>`, so a crashed process leaves nothing scattered. */
  tmpdir?: string;
  /** Appliance cache; default libguestfs' own (/var/tmp). Changing it rebuilds the appliance. */
  cachedir?: string;
  /** qemu binary. */
  hv?: string;
  /** Extra kernel command line for the appliance. */
  append?: string;
  /** Appliance and library debug messages as `appliance`/`library` events; default off. */
  verbose?: boolean;
  /** `trace` events for every call; default off. */
  trace?: boolean;
  /** Network in the appliance; default off. */
  network?: boolean;
}

/** Options of {@link Guestfs.open}: the handle's, and whether the drives are probed first. */
export interface GuestfsOpenOptions extends GuestfsOptions {
  /**
   * Default true: each drive is probed before libguestfs sees it, as the worker does before a
   * launch (`qemu-img info` in a child process, never libguestfs' own format probing): the
   * detected format is passed on, and an image that cannot work is refused with a coded
   * `LibraryError` (`ApplianceError`) before any appliance starts: IMAGE_NOT_FOUND,
   * VALIDATION_ERROR (a directory, a FIFO), UNSUPPORTED_IMAGE_FORMAT (declared format is not the
   * detected one, or one the worker does not open), PATH_NOT_ALLOWED (backing file, external data
   * file or extent: the image reads other files), APPLIANCE_ERROR (corrupt metadata, no qemu-img).
   * false: the drives go to libguestfs as given.
   */
  probe?: boolean;
}

/** Events a handle emits (names as libguestfs has them). */
export interface GuestfsEventMap {
  progress: [{ position: number; total: number }];
  appliance: [{ message: string }];
  library: [{ message: string }];
  warning: [{ message: string }];
  trace: [{ message: string }];
  enter: [{ action: string }];
  launch_done: [];
  subprocess_quit: [];
  close: [];
  libvirt_auth: [];
}
export type GuestfsEventName = keyof GuestfsEventMap;

/** One disk for {@link Guestfs.open}. */
export interface DriveSpec {
  path: string;
  /** `raw`, `qcow2`…: checked against the detected format by open(); give it for untrusted images
   * (libguestfs' own format probing, used by addDrive without one, is a known security hole). */
  format?: string;
  /** Default true: writes go to a throw-away overlay. */
  readonly?: boolean;
  label?: string;
}

/** An installed application of an inspected guest. */
export interface GuestApplication {
  name: string;
  displayName: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  installPath: string;
  publisher: string;
  url: string;
  sourcePackage: string;
  summary: string;
  description: string;
}

/** What libguestfs inspection found about one operating system (one root). */
export interface InspectedRoot {
  root: string;
  type: string;
  distro: string;
  productName: string;
  productVariant: string;
  majorVersion: number;
  minorVersion: number;
  arch: string;
  hostname: string;
  packageFormat: string;
  packageManagement: string;
  osinfo: string;
  format: string;
  /** mountpoint → device, as libguestfs guessed from the guest's fstab. */
  mountpoints: Record<string, string>;
  filesystems: string[];
  /** Present unless `applications: false` was asked. */
  applications?: GuestApplication[];
}

interface NativeHandle {
  ready(): Promise<void>;
  close(): Promise<void>;
  kill(): number;
  readonly pending: number;
  readonly closed: boolean;
  onevent?: (name: string, message: string, array: number[]) => void;
}
type NativeHandleClass = new (options: GuestfsOptions) => NativeHandle;

interface GuestfsAddon {
  GuestfsHandle: NativeHandleClass;
  setGuestfsErrorFactory(fn: (message: string, errno: number, code: string, action: string) => Error): void;
}

let native: GuestfsAddon | undefined;

/**
 * The libguestfs addon, loaded by the first handle (it links libguestfs.so.0: importing the
 * library must work without it). Without libguestfs: a GuestfsError `ELIBACC` whose message says
 * what to install.
 */
function nativeGuestfs(): GuestfsAddon {
  if (native) return native;
  let addon: GuestfsAddon;
  try {
    addon = guestfsAddon() as unknown as GuestfsAddon;
  } catch (err) {
    throw new GuestfsError((err as Error).message, { code: 'ELIBACC', errno: 0, action: 'create' });
  }
  addon.setGuestfsErrorFactory(
    (message, errno, code, action) => new GuestfsError(message, { code, errno, action }),
  );
  return (native = addon);
}

function resolveOptions(options: GuestfsOptions): GuestfsOptions {
  const resolved: GuestfsOptions = {
    backend: 'direct',
    backendSettings: ['force_tcg'],
    verbose: false,
    trace: false,
    network: false,
    ...options,
  };
  if (!resolved.tmpdir) {
    resolved.tmpdir = join(tmpdir(), `guestkit-worker-${process.getuid?.() ?? 'user'}`);
    mkdirSync(resolved.tmpdir, { recursive: true, mode: 0o700 });
  }
  return resolved;
}

const KILL_RETRY_MS = 50;
const KILL_RETRY_FOR_MS = 10_000;

/**
 * A libguestfs handle. Calls return promises and run one at a time, in call order, on a thread
 * owned by this handle; different handles run in parallel. Close it (or `await using` it).
 */
export class Guestfs extends GuestfsActions implements AsyncDisposable {
  protected readonly raw: RawActions;
  readonly #handle: NativeHandle;
  readonly #events = new EventEmitter<GuestfsEventMap>();
  #killTimer: NodeJS.Timeout | undefined;

  /** Creates the handle (its thread starts at once); see {@link Guestfs.create} to await setup errors. */
  constructor(options: GuestfsOptions = {}) {
    super();
    this.#handle = new (nativeGuestfs().GuestfsHandle)(resolveOptions(options));
    this.raw = this.#handle as unknown as RawActions;
    const events = this.#events;
    this.#handle.onevent = (name, message, array) => {
      if (events.listenerCount(name as GuestfsEventName) === 0) return;
      switch (name) {
        case 'progress':
          events.emit('progress', { position: array[2] ?? 0, total: array[3] ?? 0 });
          break;
        case 'appliance':
        case 'library':
        case 'warning':
        case 'trace':
          events.emit(name, { message });
          break;
        case 'enter':
          events.emit('enter', { action: message });
          break;
        default:
          events.emit(name as 'close');
      }
    };
  }

  /** Creates a handle and waits until its configuration was applied (rejects on a bad option). */
  static async create(options: GuestfsOptions = {}): Promise<Guestfs> {
    const g = new Guestfs(options);
    try {
      await g.#handle.ready();
    } catch (err) {
      await g.close();
      throw err;
    }
    return g;
  }

  /**
   * Probes the drives (see {@link GuestfsOpenOptions.probe}), creates a handle, adds them
   * (read-only unless told otherwise) and launches.
   */
  static async open(
    drives: string | DriveSpec | readonly (string | DriveSpec)[],
    options: GuestfsOpenOptions = {},
  ): Promise<Guestfs> {
    const { probe = true, ...handleOptions } = options;
    const specs = ((Array.isArray(drives) ? drives : [drives]) as (string | DriveSpec)[]).map((d) =>
      typeof d === 'string' ? { path: d } : d,
    );
    const list: DriveSpec[] = [];
    for (const spec of specs) {
      if (!probe) {
        list.push(spec);
        continue;
      }
      const probed = await probeImage({ path: spec.path, ...(spec.format ? { format: spec.format } : {}) });
      list.push({ ...spec, path: probed.path, format: probed.format });
    }
    const g = new Guestfs(handleOptions);
    try {
      for (const spec of list) {
        await g.addDrive(spec.path, {
          readonly: spec.readonly ?? true,
          ...(spec.format ? { format: spec.format } : {}),
          ...(spec.label ? { label: spec.label } : {}),
        });
      }
      await g.launch();
    } catch (err) {
      await g.close();
      throw err;
    }
    return g;
  }

  on<K extends GuestfsEventName>(event: K, listener: (...args: GuestfsEventMap[K]) => void): this {
    this.#events.on(event, listener as never);
    return this;
  }
  once<K extends GuestfsEventName>(event: K, listener: (...args: GuestfsEventMap[K]) => void): this {
    this.#events.once(event, listener as never);
    return this;
  }
  off<K extends GuestfsEventName>(event: K, listener: (...args: GuestfsEventMap[K]) => void): this {
    this.#events.off(event, listener as never);
    return this;
  }

  /** Calls queued or running on this handle. */
  get pending(): number {
    return this.#handle.pending;
  }
  /** True once close() was asked (further calls reject with `ECLOSED`). */
  get closed(): boolean {
    return this.#handle.closed;
  }

  /**
   * Ends the appliance (SIGKILL of what this handle's thread started: qemu, helpers): the running
   * call rejects at once with `EKILLED`, queued and later calls too. Then close() the handle.
   * Used for cancellation and timeouts. Returns how many processes it signalled now; while a call
   * is still running it keeps killing for a while, as qemu may not exist yet early in a launch.
   */
  kill(): number {
    const n = this.#handle.kill();
    if (!this.#killTimer && this.#handle.pending > 0) {
      const until = Date.now() + KILL_RETRY_FOR_MS;
      this.#killTimer = setInterval(() => {
        if (this.#handle.pending === 0 || Date.now() > until) {
          clearInterval(this.#killTimer);
          this.#killTimer = undefined;
          return;
        }
        this.#handle.kill();
      }, KILL_RETRY_MS).unref();
    }
    return n;
  }

  /** Closes the handle after every call already queued; idempotent; shuts the appliance down. */
  close(): Promise<void> {
    return this.#handle.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The content of a guest file as UTF-8 text. */
  async readText(path: string): Promise<string> {
    return (await this.readFile(path)).toString('utf8');
  }

  /**
   * Inspection summary of every operating system found (`inspect_os` + the `inspect_get_*`
   * facts). With `applications` (default true) each root is mounted read-only to list them.
   */
  async inspect(opts: { applications?: boolean } = {}): Promise<InspectedRoot[]> {
    const roots = await this.inspectOs();
    const out: InspectedRoot[] = [];
    for (const root of roots) {
      // Queued back to back: the handle thread runs them in order without waiting for JS.
      const [type, distro, productName, productVariant, majorVersion, minorVersion, arch, hostname] =
        await Promise.all([
          this.inspectGetType(root),
          this.inspectGetDistro(root),
          this.inspectGetProductName(root),
          this.inspectGetProductVariant(root),
          this.inspectGetMajorVersion(root),
          this.inspectGetMinorVersion(root),
          this.inspectGetArch(root),
          this.inspectGetHostname(root),
        ]);
      const [packageFormat, packageManagement, osinfo, format, mountpoints, filesystems] = await Promise.all([
        this.inspectGetPackageFormat(root),
        this.inspectGetPackageManagement(root),
        this.inspectGetOsinfo(root),
        this.inspectGetFormat(root),
        this.inspectGetMountpoints(root),
        this.inspectGetFilesystems(root),
      ]);
      const r: InspectedRoot = {
        root,
        type,
        distro,
        productName,
        productVariant,
        majorVersion,
        minorVersion,
        arch,
        hostname,
        packageFormat,
        packageManagement,
        osinfo,
        format,
        mountpoints,
        filesystems,
      };
      if (opts.applications ?? true) {
        const apps = await this.withMountedRoot(root, () => this.inspectListApplications2(root));
        r.applications = apps.map((a) => ({
          name: a.app2_name,
          displayName: a.app2_display_name,
          epoch: a.app2_epoch,
          version: a.app2_version,
          release: a.app2_release,
          arch: a.app2_arch,
          installPath: a.app2_install_path,
          publisher: a.app2_publisher,
          url: a.app2_url,
          sourcePackage: a.app2_source_package,
          summary: a.app2_summary,
          description: a.app2_description,
        }));
      }
      out.push(r);
    }
    return out;
  }

  /**
   * Mounts an inspected root read-only as its fstab says (shortest mountpoint first, so /boot
   * lands on /), runs fn, and unmounts everything after, also when fn throws. A mountpoint other
   * than / that fails to mount is skipped, as libguestfs' own tools do.
   */
  async withMountedRoot<T>(root: string, fn: (g: this) => Promise<T>): Promise<T> {
    const mps = Object.entries(await this.inspectGetMountpoints(root)).sort(
      ([a], [b]) => a.length - b.length || a.localeCompare(b),
    );
    let result: T;
    try {
      for (const [mountpoint, device] of mps) {
        try {
          await this.mountRo(device, mountpoint);
        } catch (err) {
          if (mountpoint === '/') throw err;
        }
      }
      result = await fn(this);
    } catch (err) {
      await this.umountAll().catch(() => undefined); // the first failure is the one to report
      throw err;
    }
    await this.umountAll();
    return result;
  }
}

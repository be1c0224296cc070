// The one appliance of a fix job: a writable qcow2 overlay as its only drive, killed the moment
// the job's signal aborts (cancel, timeout), so a stuck libguestfs call cannot hold the job.
// Types only: the native addon loads when a fix job first launches, not when handlers register.
import type { Guestfs, GuestfsOptions } from '../../../lib/guestfs.js';
import { inspectLinux } from '../../../lib/inspection/index.js';
import { HandlerError } from '../../protocol/errors.js';
import type { GuestOs } from './operations.js';

export class FixAppliance {
  private mounted = false;
  private readonly onAbort = () => this.g.kill();

  private constructor(
    readonly g: Guestfs,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Creates the handle, adds the overlay read-write and launches (~15 s under TCG). */
  static async launch(
    overlay: string,
    signal: AbortSignal,
    options: GuestfsOptions = {},
  ): Promise<FixAppliance> {
    if (signal.aborted) throw signal.reason;
    const { Guestfs } = await import('../../../lib/guestfs.js');
    const appliance = new FixAppliance(await Guestfs.create(options), signal);
    try {
      await appliance.g.addDrive(overlay, { format: 'qcow2', readonly: false });
      // An abort while the handle was being created fired no listener: check before the long launch.
      if (signal.aborted) throw signal.reason;
      await appliance.g.launch();
    } catch (err) {
      await appliance.close();
      if (signal.aborted) throw signal.reason;
      throw new HandlerError(
        'APPLIANCE_ERROR',
        `libguestfs could not launch the appliance: ${(err as Error).message} ` +
          '(check that libguestfs-test-tool passes on this host)',
        { phase: 'disk_attach', cause: err, recoverable: true },
      );
    }
    return appliance;
  }

  /**
   * Every operating system in the guest (no applications: fix needs none): the fast inspection's
   * answers when it knows the guest, inspect_os' otherwise. Runs before and after the changes.
   */
  async inspect(): Promise<GuestOs[]> {
    await this.unmount();
    const g = this.g;
    const fast = await inspectLinux(g);
    if (fast) {
      return fast.map(({ root, facts, mountpoints, filesystems }) => ({
        root,
        type: facts.type,
        distro: facts.distro,
        productName: facts.product_name,
        arch: facts.arch,
        hostname: facts.hostname,
        majorVersion: facts.major_version,
        minorVersion: facts.minor_version,
        mountpoints,
        filesystems,
      }));
    }
    const roots = await g.inspectOs();
    return Promise.all(
      roots.map(async (root) => {
        const [
          type,
          distro,
          productName,
          arch,
          hostname,
          majorVersion,
          minorVersion,
          mountpoints,
          filesystems,
        ] = await Promise.all([
          g.inspectGetType(root),
          g.inspectGetDistro(root),
          g.inspectGetProductName(root),
          g.inspectGetArch(root),
          g.inspectGetHostname(root),
          g.inspectGetMajorVersion(root),
          g.inspectGetMinorVersion(root),
          g.inspectGetMountpoints(root),
          g.inspectGetFilesystems(root),
        ]);
        return {
          root,
          type,
          distro,
          productName,
          arch,
          hostname,
          majorVersion,
          minorVersion,
          mountpoints,
          filesystems,
        };
      }),
    );
  }

  /**
   * Mounts the guest read-write as its fstab says (shortest mountpoint first, so /boot lands on
   * /). A mountpoint other than / that fails is skipped, as libguestfs' own tools do.
   */
  async mount(os: GuestOs, log: (line: string) => void = () => undefined): Promise<void> {
    if (this.mounted) return;
    const mps = Object.entries(os.mountpoints).sort(([a], [b]) => a.length - b.length || a.localeCompare(b));
    for (const [mountpoint, device] of mps) {
      try {
        await this.g.mount(device, mountpoint);
      } catch (err) {
        if (mountpoint === '/' || this.signal.aborted) throw err;
        log(`could not mount ${device} on ${mountpoint}: ${(err as Error).message}`);
      }
    }
    this.mounted = true;
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    await this.g.umountAll();
    this.mounted = false;
  }

  /** Unmounts, syncs and stops the appliance cleanly: every write is in the overlay after this. */
  async shutdown(): Promise<void> {
    await this.unmount();
    await this.g.shutdown();
  }

  /** Kills the appliance if still running and closes the handle; idempotent. */
  async close(): Promise<void> {
    this.signal.removeEventListener('abort', this.onAbort);
    if (!this.g.closed) {
      if (this.signal.aborted) this.g.kill();
      await this.g.close().catch(() => undefined);
    }
  }
}

/** A libguestfs failure during a step, in the words the report should carry. */
export function describeGuestfsError(err: unknown): string {
  if (err instanceof Error && err.name === 'GuestfsError' && 'action' in err) {
    return `${String(err.action)}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

// Builds the inspection report of one root: the OS facts (the fast inspection's or libguestfs'),
// then each section (obeying its include_* flag) read from the mounted guest. Reused by guestkit.profile and
// guestkit.compare, which call it on their own leases.
import { diskOfDevice, type ApplianceLease } from '../../../lib/appliance/index.js';
import { Guestfs } from '../../../lib/guestfs.js';
import { BlockView, osFacts } from '../../../lib/inspection/index.js';
import { snapshotDir, snapshotView } from './etc-snapshot.js';
import { readFiles } from './guest.js';
import {
  DEFAULT_INSPECT_OPTIONS,
  type FilesystemInfo,
  type ImageInfo,
  type InspectionReport,
  type InspectOptions,
  type OperatingSystemInfo,
  type PackageInfo,
} from './report.js';
import { collectNetwork } from './sections/network.js';
import { collectSecurity } from './sections/security.js';
import { collectServices } from './sections/services.js';
import { collectCloudInit, collectDatabases, collectKernels, vmTools } from './sections/software.js';
import { collectStorage } from './sections/storage.js';
import { ACCOUNT_FILES, parseUsers } from './sections/users.js';

export interface CollectContext {
  /** Stops collection between steps (cancel/timeout); default the lease's signal. */
  signal?: AbortSignal;
  /** Progress at section changes (phases: os_detection, package_scan, service_scan, security_scan…). */
  progress?(phase: string, percent: number, message: string): void;
  /** The `image` block of the report (default: from the lease's probed drive). */
  image?: ImageInfo;
  /** Other roots of the same image (multi-OS); default: the lease's roots on the root's drive. */
  siblings?: readonly string[];
  /**
   * Runs while the root is still mounted, after the report's sections, e.g. profile's extra
   * checks: one mount serves both.
   */
  whileMounted?(g: Guestfs, root: string, report: InspectionReport): Promise<void>;
}

/**
 * Device names as the image alone would have them: the lease's n-th drive is /dev/sd<n>, so a
 * report does not depend on which other jobs shared the appliance (nor do compare's diffs).
 */
export function deviceAliaser(devices: readonly string[]): (device: string) => string {
  const map = new Map(devices.map((d, i) => [d, `/dev/sd${String.fromCharCode(97 + i)}`]));
  return (device: string) => {
    const prefix = device.startsWith('btrfsvol:') ? 'btrfsvol:' : '';
    const dev = device.slice(prefix.length);
    const disk = diskOfDevice(dev);
    const alias = map.get(disk);
    if (!alias || !dev.startsWith(disk)) return device;
    const rest = dev.slice(disk.length);
    // /dev/sdc3 → /dev/sda3 (the same partition number; no "p" infix for sd names).
    return `${prefix}${alias}${rest}`;
  };
}

/** The OS facts of a root in the report's shape (the lease's, or libguestfs' for a bare handle). */
export async function osInfo(
  target: ApplianceLease | Guestfs,
  root: string,
  alias: (d: string) => string,
): Promise<OperatingSystemInfo> {
  const f = isLease(target) ? await target.os(root) : await osFacts(target, root);
  return {
    type: f.type,
    distribution: f.distro,
    product_name: f.product_name,
    product_variant: f.product_variant,
    version: `${f.major_version}.${f.minor_version}`,
    major_version: f.major_version,
    minor_version: f.minor_version,
    hostname: f.hostname,
    arch: f.arch,
    package_format: f.package_format,
    package_management: f.package_management,
    osinfo: f.osinfo,
    root: alias(root),
  };
}

/** The block device holding a mountable (`btrfsvol:/dev/sda2/@` → `/dev/sda2`). */
function sizeDevice(mountable: string): string {
  return mountable.startsWith('btrfsvol:')
    ? mountable.slice(9).replace(/^(\/dev\/[^/]+)\/.*$/, '$1')
    : mountable;
}

async function filesystemsOf(
  blocks: BlockView,
  devices: readonly string[],
  alias: (d: string) => string,
): Promise<FilesystemInfo[]> {
  // blkid gives type, UUID and label in one call (three vfs_* calls otherwise); the view answers
  // from what inspection already read where it can.
  const facts = await Promise.all(
    devices.map((d) =>
      Promise.all([
        // A subvolume has its filesystem's UUID and label (virt-inspector reports them too).
        blocks.blkid(sizeDevice(d)).then(
          (tags) => (d.startsWith('btrfsvol:') ? { ...tags, TYPE: 'btrfs' } : tags),
          () => (d.startsWith('btrfsvol:') ? { TYPE: 'btrfs' } : {}) as Record<string, string>,
        ),
        blocks.size(sizeDevice(d)).catch(() => 0),
      ]),
    ),
  );
  return devices.map((d, i) => ({
    device: alias(d),
    type: facts[i][0].TYPE ?? 'unknown',
    uuid: facts[i][0].UUID ?? '',
    label: facts[i][0].LABEL ?? '',
    size_bytes: facts[i][1],
  }));
}

/**
 * Mounts read-only by mountpoint depth (/ before /boot), runs fn, unmounts everything, also on
 * failure. A mountpoint other than / that does not mount is skipped, as libguestfs tools do.
 */
export async function withMounts<T>(
  g: Guestfs,
  mountpoints: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T> {
  const order = Object.entries(mountpoints).sort(([a], [b]) => a.length - b.length || a.localeCompare(b));
  try {
    for (const [mp, dev] of order) {
      try {
        await g.mountRo(dev, mp);
      } catch (err) {
        if (mp === '/') throw err;
      }
    }
    return await fn();
  } finally {
    await g.umountAll().catch(() => undefined);
  }
}

function isLease(t: ApplianceLease | Guestfs): t is ApplianceLease {
  return !(t instanceof Guestfs);
}

/** Collects the report of `root` (a device inspect_os returned) on a lease or a bare launched handle. */
export async function collectReport(
  target: ApplianceLease | Guestfs,
  root: string,
  options: Partial<InspectOptions> = {},
  ctx: CollectContext = {},
): Promise<InspectionReport> {
  const opts: InspectOptions = { ...DEFAULT_INSPECT_OPTIONS, ...options };
  const lease = isLease(target) ? target : undefined;
  const g = lease ? lease.guestfs : (target as Guestfs);
  const signal = ctx.signal ?? lease?.signal;
  const check = () => signal?.throwIfAborted();
  const progress = ctx.progress ?? (() => undefined);
  const devices = lease ? [...lease.devices] : await g.listDevices();
  const alias = deviceAliaser(devices);

  // Which drive the root is on (LVM roots: the first drive of the lease holding a root like it).
  let driveIndex = devices.indexOf(diskOfDevice(root));
  let siblings = ctx.siblings ? [...ctx.siblings] : undefined;
  if (lease) {
    const byDrive = await lease.rootsByDrive();
    if (driveIndex < 0)
      driveIndex = Math.max(
        0,
        byDrive.findIndex((roots) => roots.includes(root)),
      );
    siblings ??= byDrive[driveIndex] ?? [root];
  }
  siblings ??= [root];
  if (!siblings.includes(root)) siblings.unshift(root);
  const disks = driveIndex >= 0 ? [devices[driveIndex]] : devices;

  const blocks = lease ? await lease.blocks() : new BlockView(g);
  progress('os_detection', 40, `Reading operating system facts of ${alias(root)}`);
  const [allOs, mountpoints, filesystems] = await Promise.all([
    Promise.all(siblings.map((r) => osInfo(target, r, alias))),
    lease ? lease.mountpoints(root) : g.inspectGetMountpoints(root),
    // The lease's list: inspect_get_filesystems may name another job's drive (fstab /dev/sda, clones).
    (lease ? lease.filesystems(root) : g.inspectGetFilesystems(root)).then((d) =>
      filesystemsOf(blocks, d, alias),
    ),
  ]);
  const os = allOs[siblings.indexOf(root)];
  check();
  const drive = lease?.drives[Math.max(0, driveIndex)];
  const warnings: string[] = [];
  const report: InspectionReport = {
    version: '1.0',
    image: ctx.image ?? {
      path: drive?.path ?? '',
      format: drive?.format ?? 'unknown',
      size_bytes: drive?.actualSizeBytes ?? 0,
      virtual_size_bytes: drive?.virtualSizeBytes ?? 0,
    },
    operating_system: os,
    ...(allOs.length > 1 ? { operating_systems: allOs } : {}),
    mountpoints: Object.fromEntries(Object.entries(mountpoints).map(([mp, dev]) => [mp, alias(dev)])),
    filesystems,
    kernels: { installed: [], default: null },
    cloud_init: { installed: false, datasources: [], disabled: false },
    vm_tools: { installed: [] },
    machine_id: null,
    warnings,
    generated_at: '',
  };

  await withMounts(g, mountpoints, async () => {
    check();
    // /etc in one call; sections read it through `v` (other paths still go to the appliance).
    const v = snapshotView(g, await snapshotDir(g, '/etc'));
    check();
    const needApps = opts.include_packages || opts.include_databases || opts.include_security;
    progress('package_scan', 50, 'Listing installed packages');
    const [apps, files, kernels] = await Promise.all([
      needApps ? (lease ? lease.applications(root) : g.inspectListApplications2(root)) : Promise.resolve([]),
      readFiles(v, [...ACCOUNT_FILES, '/etc/machine-id', '/etc/fstab']),
      collectKernels(v),
    ]);
    check();
    const packages: PackageInfo[] = apps
      .map((a) => ({
        name: a.app2_name,
        epoch: a.app2_epoch,
        version: a.app2_version,
        release: a.app2_release,
        arch: a.app2_arch,
        summary: a.app2_summary,
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch));
    const names = new Set(packages.map((p) => p.name));
    if (opts.include_packages) {
      report.packages = { count: packages.length, manager: os.package_format, packages };
    }
    report.kernels = kernels;
    report.machine_id = files.get('/etc/machine-id')?.trim() || null;
    const [cloudInit, databases] = await Promise.all([
      collectCloudInit(v, names),
      opts.include_databases ? collectDatabases(v, packages) : Promise.resolve(undefined),
    ]);
    report.cloud_init = cloudInit;
    report.vm_tools = vmTools(names);
    if (databases) report.databases = databases;
    check();

    progress('service_scan', 65, 'Reading services, accounts and network configuration');
    const needServices = opts.include_services || opts.include_security;
    const [services, network] = await Promise.all([
      needServices ? collectServices(v) : Promise.resolve(undefined),
      opts.include_network ? collectNetwork(v, os.hostname, warnings) : Promise.resolve(undefined),
    ]);
    if (opts.include_services && services) report.services = services;
    if (opts.include_users) {
      report.users = parseUsers({
        passwd: files.get('/etc/passwd') ?? null,
        shadow: files.get('/etc/shadow') ?? null,
        group: files.get('/etc/group') ?? null,
        loginDefs: files.get('/etc/login.defs') ?? null,
      });
    }
    if (network) report.network = network;
    check();

    if (opts.include_security || opts.include_storage)
      progress('security_scan', 80, 'Reading security and storage');
    const [security, storage] = await Promise.all([
      opts.include_security
        ? collectSecurity(v, { enabledUnits: new Set(services?.enabled ?? []), packages: names })
        : Promise.resolve(undefined),
      opts.include_storage
        ? collectStorage(blocks, disks, files.get('/etc/fstab') ?? null)
        : Promise.resolve(undefined),
    ]);
    if (security) report.security = security;
    if (storage) {
      storage.partitions = storage.partitions.map((p) => ({ ...p, device: alias(p.device) }));
      storage.lvm.pvs = storage.lvm.pvs.map(alias);
      report.storage = storage;
    }
    check();
    if (ctx.whileMounted) await ctx.whileMounted(v, root, report);
  });
  report.generated_at = new Date().toISOString();
  return report;
}

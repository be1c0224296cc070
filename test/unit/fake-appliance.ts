// A scripted stand-in for the libguestfs handle under the appliance pool: names of drives say what
// the "appliance" does with them, so the pool's scheduling can be tested without launching qemu.
import { readFileSync } from 'node:fs';
import { AppliancePool, type DriveRequest, type ProbedDrive } from '../../lib/appliance/index.js';
import type { Guestfs } from '../../lib/guestfs.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Drive names script the fake: `os` → one root on partition 1; `bad` → the launch fails naming it;
 * `poison` → the launch fails without naming anything; `clone` → its fstab resolves to the first drive;
 * `twin` → the same filesystem UUIDs as the other twins, fstab resolved onto its own drive. */
export class FakeAppliance {
  static all: FakeAppliance[] = [];
  drives: string[] = [];
  launched = false;
  killed = false;
  closed = false;
  inspectCalls = 0;
  /** What qemu would have read from each descriptor drive (`/proc/<pid>/fd/N`) once it started. */
  opened: (string | undefined)[] = [];
  constructor(readonly launchMs: number) {
    FakeAppliance.all.push(this);
  }
  async addDrive(path: string): Promise<void> {
    this.drives.push(path);
  }
  async launch(): Promise<void> {
    await sleep(this.launchMs);
    if (this.killed) throw Object.assign(new Error('killed'), { code: 'EKILLED' });
    const bad = this.drives.find((d) => d.includes('bad'));
    if (bad) throw new Error(`qemu-system-x86_64: -drive file=${bad}: Could not open: Invalid argument`);
    if (this.drives.some((d) => d.includes('poison'))) throw new Error('guestfs_launch failed');
    this.opened = this.drives.map((d) => (d.startsWith('/proc/') ? readFileSync(d, 'utf8') : undefined));
    this.launched = true;
  }
  dev(i: number): string {
    return `/dev/sd${String.fromCharCode(97 + i)}`;
  }
  async listDevices(): Promise<string[]> {
    return this.drives.map((_, i) => this.dev(i));
  }
  async inspectOs(): Promise<string[]> {
    this.inspectCalls++;
    if (this.killed) throw Object.assign(new Error('killed'), { code: 'EKILLED' });
    return this.drives.flatMap((d, i) => (d.includes('os') ? [`${this.dev(i)}1`] : []));
  }
  async inspectGetMountpoints(root: string): Promise<Record<string, string>> {
    const i = root.charCodeAt(7) - 97;
    if (this.drives[i].includes('devname')) return { '/': '/dev/sda1', '/boot': '/dev/sda2' }; // fstab by name
    // A clone's fstab UUID= resolves to the previous drive (libguestfs takes the first match).
    const clone = this.drives[i].includes('clone') && i > 0;
    return { '/': root, '/boot': clone ? `${this.dev(i - 1)}2` : `${this.dev(i)}2` };
  }
  async inspectGetFilesystems(root: string): Promise<string[]> {
    return Object.values(await this.inspectGetMountpoints(root));
  }
  async vfsUuid(dev: string): Promise<string> {
    const i = dev.charCodeAt(7) - 97;
    const copy = /clone|twin/.exec(this.drives[i])?.[0];
    return `${copy ?? this.drives[i]}-${dev.slice(8)}`;
  }
  async pvs(): Promise<string[]> {
    return [];
  }
  async umountAll(): Promise<void> {}
  kill(): number {
    this.killed = true;
    return 1;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** qemu-img info as the pool sees it: every drive a 1 MiB raw image; `missing` → no such file. */
export async function fakeProbe(d: DriveRequest): Promise<ProbedDrive> {
  if (d.path.includes('missing')) throw new Error('No such file');
  return { path: d.path, format: 'raw', virtualSizeBytes: 1 << 20, actualSizeBytes: 1 << 20, readonly: true };
}

/** A pool over fake appliances (FakeAppliance.all starts empty); the option names are the pool's. */
export function fakePool(
  opts: {
    appliances?: number;
    drives?: number;
    windowMs?: number;
    launchMs?: number;
    /** The pool's default when unset. */
    lingerMs?: number;
  } = {},
): AppliancePool {
  FakeAppliance.all = [];
  return new AppliancePool({
    maxAppliances: opts.appliances ?? 1,
    maxDrivesPerAppliance: opts.drives ?? 8,
    batchWindowMs: opts.windowMs ?? 20,
    ...(opts.lingerMs !== undefined ? { reservationLingerMs: opts.lingerMs } : {}),
    createHandle: () => new FakeAppliance(opts.launchMs ?? 30) as unknown as Guestfs,
    // The fakes script inspect_os' answers; the fast inspection has tests of its own.
    fastInspection: false,
    probe: fakeProbe,
  });
}

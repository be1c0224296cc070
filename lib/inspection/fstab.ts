// A root's /etc/fstab resolved to appliance devices the way libguestfs' inspection does it
// (UUID=/LABEL= lookups, guest partition names mapped by drive order,
// /dev/mapper/VG-LV → /dev/VG/LV, pseudo filesystems and removable media skipped), with one
// deliberate difference: a UUID or label is looked up on the root's own drives first, so a
// clone sharing the appliance never lends its filesystems to another root.

export interface FstabEntry {
  spec: string;
  mountpoint: string;
  vfstype: string;
}

/** What a lookup by UUID/label can find, per block device in the appliance. */
export interface BlockDevice {
  device: string;
  /** The whole disk(s) holding it (an LV: its PVs' disks). */
  disks: readonly string[];
  uuid?: string;
  label?: string;
}

export interface FstabContext {
  /** The root filesystem the fstab came from. */
  root: string;
  /** The disks the root is on: lookups prefer devices there. */
  rootDisks: readonly string[];
  /** The appliance's whole devices in drive order (`/dev/sda`, …). */
  devices: readonly string[];
  /** Every block device with a filesystem signature (partitions, bare disks, LVs). */
  blocks: readonly BlockDevice[];
  /** `/dev/VG/LV` of every logical volume. */
  lvs: ReadonlySet<string>;
}

/** Mountable → mountpoint pairs in file order (swap has a non-path mountpoint like `none`). */
export type ResolvedFstab = [string, string][];

/** One mount option or vfstype of Augeas' fstab lens: a label, maybe `=value`. */
const ITEM = String.raw`[^,#= \n\t]+(?:=[^,# \n\t]*)?`;
const LIST = `${ITEM}(?:,${ITEM})*`;
/**
 * A record line as Augeas' fstab lens (augeas 1.14, lenses/dist/fstab.aug) accepts it: spec, file,
 * vfstype list, then optional options, dump and passno, then an optional comment.
 */
const RECORD = new RegExp(
  String.raw`^[ \t]*([^,# \n\t][^ \n\t]*)[ \t]+([^# \t\n]+)[ \t]+(${LIST})` +
    String.raw`(?:[ \t]+${LIST}(?:[ \t]+[0-9]+(?:[ \t]+[0-9]+)?)?)?[ \t]*(?:#.*)?$`,
);

/**
 * The entries of an fstab as libguestfs sees them through Augeas: fields verbatim (Augeas decodes
 * no `\040` escapes, so such a LABEL= names no filesystem and such a mountpoint stays as written),
 * or undefined when Augeas would refuse the file (inspect_os then fails on it: left to it) or an
 * entry has several types (libguestfs' lookup of the type then fails).
 */
export function parseFstab(text: string): FstabEntry[] | undefined {
  const out: FstabEntry[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    // Util.empty (a lone '#' included) and Util.comment.
    if (/^[ \t]*#?[ \t]*$/.test(line) || /^[ \t]*#/.test(line)) continue;
    const m = RECORD.exec(line);
    if (!m) return undefined;
    const [, spec, mountpoint, vfstype] = m;
    if (/[,=]/.test(vfstype)) return undefined;
    out.push({ spec, mountpoint, vfstype });
  }
  return out;
}

function canonicalPath(p: string): string {
  const collapsed = p.replace(/\/+/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

function ignoredMountpoint(mp: string): boolean {
  return (
    ['/dev', '/proc', '/selinux', '/sys'].some((d) => mp === d || mp.startsWith(`${d}/`)) ||
    mp.startsWith('/media/')
  );
}

function ignoredSpec(spec: string): boolean {
  return (
    /^\/dev\/(fd|cd)\d/.test(spec) ||
    spec === '/dev/floppy' ||
    spec === '/dev/cdrom' ||
    spec.startsWith('/dev/iso9660/')
  );
}

const unquote = (v: string) => (/^(["']).*\1$/.test(v) && v.length >= 2 ? v.slice(1, -1) : v);

function lookup(ctx: FstabContext, key: 'uuid' | 'label', value: string): string | undefined {
  const matches = ctx.blocks.filter(
    (b) => b[key] !== undefined && b[key]!.toLowerCase() === value.toLowerCase(),
  );
  const own = matches.find((b) => b.disks.some((d) => ctx.rootDisks.includes(d)));
  return (own ?? matches[0])?.device;
}

/** `a` → 0, `z` → 25, `aa` → 26. */
function driveIndex(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

const NOT_RESOLVED = Symbol('not resolved');

/** A /dev/ name from the guest's point of view → the appliance's; NOT_RESOLVED: not followed here. */
function resolveDevice(ctx: FstabContext, spec: string): string | typeof NOT_RESOLVED {
  if (spec.startsWith('/dev/mapper/')) {
    // VG-LV with '-' inside names doubled.
    const m = /^((?:[^-]|--)+)-((?:[^-]|--)+)$/.exec(spec.slice(12));
    if (!m) return NOT_RESOLVED;
    const lv = `/dev/${m[1].replace(/--/g, '-')}/${m[2].replace(/--/g, '-')}`;
    return ctx.lvs.has(lv) ? lv : NOT_RESOLVED; // e.g. a LUKS mapping: libguestfs' business
  }
  const x = /^\/dev\/(h|s|v|xv)d([a-z]+)(\d*)$/.exec(spec);
  if (x) {
    const disk = ctx.devices[driveIndex(x[2])];
    const dev = disk === undefined ? undefined : `${disk}${x[3]}`;
    // Only partitions are mapped; a whole disk keeps the guest's name (libguestfs 1.48).
    return dev !== undefined && dev !== disk && ctx.blocks.some((b) => b.device === dev) ? dev : spec;
  }
  // by-uuid stays as written in 1.48; by-id/by-path, cciss, md and BSD names have rules of their own.
  if (spec.startsWith('/dev/disk/by-uuid/')) return spec;
  if (/^\/dev\/(disk\/|cciss\/|md\d|ada|vtbd|wd\d|ld\d|hd\d+s)/.test(spec)) return NOT_RESOLVED;
  return spec;
}

/**
 * The fstab of `ctx.root` as inspect_get_mountpoints/filesystems would give it, or undefined when
 * an entry needs rules this module does not follow (btrfs subvolumes, LUKS, md, by-id names).
 */
export function resolveFstab(entries: readonly FstabEntry[], ctx: FstabContext): ResolvedFstab | undefined {
  const out: ResolvedFstab = [];
  for (const e of entries) {
    if (ignoredSpec(e.spec)) continue;
    const mp = canonicalPath(e.mountpoint);
    if (ignoredMountpoint(mp)) continue;
    let mountable: string | undefined;
    // libguestfs 1.48 resolves UUID= and LABEL= only; PARTUUID=/PARTLABEL= entries fall through
    // to the "not a device" case below and are dropped, as it drops them.
    const tagged = /^(UUID|LABEL)=(.*)$/.exec(e.spec);
    if (tagged) {
      const key = tagged[1].toLowerCase() as 'uuid' | 'label';
      mountable = lookup(ctx, key, unquote(tagged[2]));
      if (mountable === undefined) continue; // libguestfs drops what it cannot find
    } else if (e.spec === '/dev/root') {
      mountable = ctx.root;
    } else if (e.spec.startsWith('/dev/')) {
      const dev = resolveDevice(ctx, e.spec);
      if (dev === NOT_RESOLVED) return undefined;
      mountable = dev;
    } else {
      continue; // tmpfs, proc, nfs, swap files…
    }
    if (e.vfstype === 'btrfs') return undefined;
    out.push([mountable, mp]);
  }
  const roots = out.filter(([, mp]) => mp === '/');
  return roots.length > 1 ? out.filter(([m, mp]) => mp !== '/' || m === ctx.root) : out;
}

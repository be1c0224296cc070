// File-level facts the profiles need beyond the inspection report, read while the root is
// mounted (collectReport's whileMounted hook): login.defs, /etc permissions, /tmp, swap sizes,
// virtio drivers in kernels and initramfs. Every read is a libguestfs call on the handle's thread.
import type { Guestfs } from '../../../lib/guestfs.js';
import { lstatTree, S_IFLNK, S_IFMT, S_IFREG } from '../compare/guest-files.js';
import type { InspectionReport } from '../inspect/report.js';
import type { ProfileFacts } from './types.js';

/** Text files we parse are small; a huge login.defs is not one we trust to read. */
const MAX_TEXT_BYTES = 1024 * 1024;
/** Names libguestfs lists from the kernel tree / initramfs that matter for booting on KVM. */
const VIRTIO_DRIVER = /(?:^|\/)(virtio(?:_[a-z]+)?)\.ko(?:\.(?:xz|zst|gz))?$/;

/** cpio (newc/crc/odc), gzip, zstd, xz, lz4, bzip2, lzma: leading bytes as hex. */
const INITRD_MAGIC = [
  '303730373031',
  '303730373032',
  '303730373037',
  '1f8b',
  '28b52ffd',
  'fd377a58',
  '02214c18',
  '425a68',
  '5d0000',
];

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

async function readSmallText(g: Guestfs, path: string): Promise<string | null> {
  if (!(await g.isFile(path, { followsymlinks: true }))) return null;
  const st = await g.statns(path);
  if (st.st_size > MAX_TEXT_BYTES) throw new Error(`${path} is ${st.st_size} bytes; not parsed`);
  return g.readText(path);
}

export function parsePassMaxDays(loginDefs: string): number | null {
  let value: number | null = null;
  for (const line of loginDefs.split('\n')) {
    const m = /^\s*PASS_MAX_DAYS\s+(-?\d+)\s*(?:#.*)?$/.exec(line);
    if (m) value = Number(m[1]); // the last occurrence wins, as shadow-utils reads it
  }
  // -1 means "never expires" for shadow-utils.
  return value !== null && value < 0 ? 99999 : value;
}

/** Regular files below /etc with o+w. */
async function worldWritableEtc(g: Guestfs): Promise<ProfileFacts['worldWritableEtc']> {
  const out: ProfileFacts['worldWritableEtc'] = [];
  for (const [path, st] of await lstatTree(g, '/etc')) {
    if ((st.mode & S_IFMT) === S_IFREG && (st.mode & 0o002) !== 0) out.push({ path, mode: octal(st.mode) });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

async function tmpFacts(g: Guestfs, report: InspectionReport): Promise<ProfileFacts['tmp']> {
  const tmpfs = report.storage?.fstab.find((e) => e.mountpoint === '/tmp' && e.type === 'tmpfs');
  if (tmpfs) {
    // tmpfs defaults to 1777 unless mode= says otherwise.
    const m = /(?:^|,)mode=([0-7]+)/.exec(tmpfs.options);
    const mode = m ? parseInt(m[1], 8) : 0o1777;
    return { mode: octal(mode), sticky: (mode & 0o1000) !== 0, source: 'fstab-tmpfs' };
  }
  if (!(await g.exists('/tmp'))) return null;
  let st = await g.lstatns('/tmp');
  if ((Number(st.st_mode) & S_IFMT) === S_IFLNK) {
    // Resolve inside the guest: an absolute target must not be read from the appliance's own /.
    const target = await g.readlink('/tmp');
    const path = target.startsWith('/') ? target : `/${target}`;
    if (!(await g.exists(path))) return null;
    st = await g.statns(path);
  }
  const mode = Number(st.st_mode);
  return { mode: octal(mode), sticky: (mode & 0o1000) !== 0, source: 'filesystem' };
}

async function swapFacts(g: Guestfs, report: InspectionReport): Promise<ProfileFacts['swap']> {
  const entries = (report.storage?.fstab ?? []).filter((e) => e.type === 'swap');
  const out: ProfileFacts['swap'] = [];
  for (const e of entries) {
    const [key, value] = e.spec.includes('=') ? e.spec.split('=', 2) : ['', e.spec];
    let size: number | null = null;
    const fs = report.filesystems.find(
      (f) =>
        (key === 'UUID' && f.uuid.toLowerCase() === value.toLowerCase()) ||
        (key === 'LABEL' && f.label === value) ||
        (key === '' && f.device === value),
    );
    if (fs) size = fs.size_bytes;
    else if (key === '' && value.startsWith('/dev/')) {
      // An LV (/dev/mapper/vg-swap) the appliance activated under the same name. A bus name
      // (/dev/sdb2) may be another job's drive in a shared appliance: never looked up.
      const busName = /^\/dev\/([shv]d[a-z]+|xvd[a-z]+|nvme\d+n\d+)/.test(value);
      size = busName ? null : await g.blockdevGetsize64(value).then(Number, () => null);
    } else if (key === '' && value.startsWith('/')) {
      // A swap file inside the guest.
      size = (await g.exists(value)) ? Number((await g.statns(value)).st_size) : null;
    }
    out.push({ spec: e.spec, size_bytes: size });
  }
  return out;
}

async function kernelVirtio(g: Guestfs, dir: string): Promise<{ modules: string[]; builtin: string[] }> {
  const modules = new Set<string>();
  for (const path of await g.globExpand(`${dir}/kernel/drivers/*/virtio*.ko*`)) {
    const m = VIRTIO_DRIVER.exec(path);
    if (m) modules.add(m[1]);
  }
  const builtin = new Set<string>();
  if (await g.isFile(`${dir}/modules.builtin`)) {
    for (const line of await g.grep('virtio', `${dir}/modules.builtin`)) {
      const m = VIRTIO_DRIVER.exec(line.trim());
      if (m) builtin.add(m[1]);
    }
  }
  return { modules: [...modules].sort(), builtin: [...builtin].sort() };
}

async function virtioFacts(g: Guestfs, warnings: string[]): Promise<ProfileFacts['virtio']> {
  const kernels: ProfileFacts['virtio']['kernels'] = {};
  const initramfs: ProfileFacts['virtio']['initramfs'] = {};
  const base = (await g.isDir('/lib/modules')) ? '/lib/modules' : '/usr/lib/modules';
  const versions = (await g.isDir(base)) ? await g.ls(base) : [];
  for (const v of versions) {
    if (!(await g.isDir(`${base}/${v}`))) continue;
    kernels[v] = await kernelVirtio(g, `${base}/${v}`);
  }
  const boot = (await g.isDir('/boot')) ? await g.ls('/boot') : [];
  for (const name of boot.filter((n) => /^(initrd\.img|initramfs|initrd)-.+/.test(n) && !/kdump/.test(n))) {
    const path = `/boot/${name}`;
    try {
      // Only cpio or a compressed stream is worth a listing (it spawns tools in the appliance).
      const head = (await g.pread(path, 6, 0)).toString('hex');
      if (!INITRD_MAGIC.some((m) => head.startsWith(m))) {
        warnings.push(`${path}: not a cpio archive or a compressed stream; virtio check skipped`);
        continue;
      }
      const files = await g.initrdList(path);
      // libguestfs lists only the first cpio archive: dracut images start with an early
      // (microcode) archive, so a list without any module tree tells us nothing.
      if (!files.some((f) => /(^|\/)lib\/modules\//.test(f))) {
        warnings.push(`${path}: only an early cpio archive could be listed; virtio check skipped`);
        continue;
      }
      const drivers = new Set<string>();
      for (const f of files) {
        const m = VIRTIO_DRIVER.exec(f);
        if (m) drivers.add(m[1]);
      }
      initramfs[path] = [...drivers].sort();
    } catch (err) {
      warnings.push(`${path}: cannot list the initramfs (${(err as Error).message.split('\n')[0]})`);
    }
  }
  return { kernels, initramfs };
}

/** Collects the extra facts of the mounted root `report` describes. Never throws for one bad file. */
export async function collectProfileFacts(g: Guestfs, report: InspectionReport): Promise<ProfileFacts> {
  const warnings: string[] = [];
  const attempt = async <T>(what: string, fallback: T, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      warnings.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      return fallback;
    }
  };
  const loginDefs = await attempt('/etc/login.defs', null, () => readSmallText(g, '/etc/login.defs'));
  return {
    passMaxDays: loginDefs === null ? null : parsePassMaxDays(loginDefs),
    worldWritableEtc: await attempt('/etc permissions', [], () => worldWritableEtc(g)),
    tmp: await attempt('/tmp', null, () => tmpFacts(g, report)),
    swap: await attempt('swap', [], () => swapFacts(g, report)),
    virtio: await attempt('virtio drivers', { kernels: {}, initramfs: {} }, () => virtioFacts(g, warnings)),
    warnings,
  };
}

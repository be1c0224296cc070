// The guest facts the migration checks judge, read while the root is mounted (collectReport's
// whileMounted hook: one mount serves the inspection sections and these). Each fact keeps where
// it was read, so a check's evidence can say so.
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Guestfs } from '../../../lib/guestfs.js';
import { readInitramfs } from '../../../lib/initramfs/index.js';
import type { InspectionReport } from '../inspect/report.js';
import {
  kernelVersionOf,
  parseBlsEntry,
  parseGrubCfg,
  parseGrubLegacy,
  parseShellVars,
  type BootEntry,
  type BootloaderKind,
} from './boot-config.js';

/** Larger initramfs images are not downloaded (real ones are 20–120 MiB). */
const MAX_INITRAMFS_BYTES = 512 * 1024 * 1024;
const MAX_TEXT_BYTES = 4 * 1024 * 1024;

export interface KernelFacts {
  version: string;
  vmlinuz: string;
  /** The initramfs file for this version in /boot, null when none. */
  initramfs: string | null;
  /** /lib/modules/<version> exists. */
  modules: boolean;
}

export interface ModuleIndex {
  /** Where modules.dep was read. */
  source: string;
  /** Module name (underscores) → path below /lib/modules/<v> and its dependencies' names. */
  modules: Record<string, { path: string; deps: string[] }>;
  builtin: string[];
}

export interface InitramfsFacts {
  path: string;
  kernel: string;
  bytes: number;
  segments: { offset: number; compression: string; entries: number; error?: string }[];
  complete: boolean;
  files: number;
  /** Module names (underscores) present as .ko files in the archive. */
  modules: string[];
  /** Text of conf/modules, etc/modules-load.d/*.conf inside it (what it loads explicitly). */
  loadLists: Record<string, string>;
  /** Set when the file could not be read at all. */
  error?: string;
}

export interface NetworkBinding {
  file: string;
  kind:
    | 'ifcfg-hwaddr'
    | 'persistent-net-rules'
    | 'netplan-macaddress'
    | 'networkmanager-mac'
    | 'networkd-mac'
    | 'ifupdown-hwaddress';
  detail: string;
}

export interface DoctorFacts {
  report: InspectionReport;
  crypttab: { name: string; source: string; key: string; options: string }[] | null;
  kernels: KernelFacts[];
  bootloader: {
    kind: BootloaderKind | null;
    configs: string[];
    entries: BootEntry[];
    default: BootEntry | null;
    /** GRUB_CMDLINE_LINUX and friends from /etc/default/grub. */
    defaults: Record<string, string>;
  };
  defaultKernel: string | null;
  modules: ModuleIndex | null;
  initramfs: InitramfsFacts | null;
  firmware: {
    esp: { mountpoint: string; efiFiles: string[] } | null;
    vfatFilesystems: string[];
    grubBiosModules: string | null;
    /** What the first 440 bytes of the disk hold. */
    mbr: 'grub' | 'other-boot-code' | 'empty' | 'unknown';
  };
  network: { bindings: NetworkBinding[]; interfaces: { name: string; file: string }[] };
  autorelabel: boolean;
  gettys: string[];
  warnings: string[];
}

const underscore = (name: string) => name.replace(/-/g, '_');
const moduleName = (path: string) => underscore(/([^/]+)\.ko(?:\.(?:xz|zst|gz))?$/.exec(path)?.[1] ?? '');

async function text(g: Guestfs, path: string): Promise<string | null> {
  try {
    if (!(await g.isFile(path, { followsymlinks: true }))) return null;
    const st = await g.statns(path);
    if (st.st_size > MAX_TEXT_BYTES) return null;
    return (await g.readFile(path)).toString('utf8');
  } catch {
    return null;
  }
}

async function list(g: Guestfs, dir: string): Promise<string[]> {
  try {
    return (await g.isDir(dir, { followsymlinks: true })) ? (await g.ls(dir)).sort() : [];
  } catch {
    return [];
  }
}

export function parseCrypttab(t: string): NonNullable<DoctorFacts['crypttab']> {
  return t
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => {
      const [name = '', source = '', key = 'none', options = ''] = l.split(/\s+/);
      return { name, source, key, options };
    });
}

export function parseModulesDep(dep: string, builtin: string, source: string): ModuleIndex {
  const modules: ModuleIndex['modules'] = {};
  for (const line of dep.split('\n')) {
    const [path, rest] = line.split(':');
    if (!path || rest === undefined) continue;
    modules[moduleName(path)] = { path, deps: rest.trim().split(/\s+/).filter(Boolean).map(moduleName) };
  }
  const builtins = builtin
    .split('\n')
    .map((l) => moduleName(l.trim()))
    .filter(Boolean);
  return { source, modules, builtin: [...new Set(builtins)].sort() };
}

async function bootloader(g: Guestfs, warnings: string[]): Promise<DoctorFacts['bootloader']> {
  const defaults = parseShellVars((await text(g, '/etc/default/grub')) ?? '');
  const configs: string[] = [];
  let kind: BootloaderKind | null = null;
  let entries: BootEntry[] = [];
  let def = 0;
  const grubenvText = (await text(g, '/boot/grub2/grubenv')) ?? (await text(g, '/boot/grub/grubenv')) ?? '';
  const grubenv = parseShellVars(grubenvText);
  const bls = async (dir: string) => {
    const out: BootEntry[] = [];
    for (const name of (await list(g, dir)).filter((n) => n.endsWith('.conf'))) {
      const t = await text(g, `${dir}/${name}`);
      const e = t ? parseBlsEntry(t, `${dir}/${name}`, grubenv) : null;
      if (e) out.push(e);
    }
    // blscfg sorts newest version first.
    return out.sort((a, b) => b.kernel.localeCompare(a.kernel, undefined, { numeric: true }));
  };
  for (const path of ['/boot/grub2/grub.cfg', '/boot/grub/grub.cfg', '/boot/efi/EFI/BOOT/grub.cfg']) {
    const t = await text(g, path);
    if (t === null) continue;
    configs.push(path);
    kind = 'grub2';
    const parsed = parseGrubCfg(t, path, grubenv.saved_entry);
    entries = parsed.entries;
    def = parsed.default;
    if (entries.length === 0 && /blscfg/.test(t + (defaults.GRUB_ENABLE_BLSCFG ?? '')))
      entries = await bls('/boot/loader/entries');
    if (entries.length === 0 && defaults.GRUB_ENABLE_BLSCFG === 'true')
      entries = await bls('/boot/loader/entries');
    break;
  }
  if (!kind) {
    for (const path of ['/boot/grub/menu.lst', '/boot/grub/grub.conf']) {
      const t = await text(g, path);
      if (t === null) continue;
      configs.push(path);
      kind = 'grub-legacy';
      ({ entries, default: def } = parseGrubLegacy(t, path));
      break;
    }
  }
  if (!kind) {
    for (const base of ['/boot/efi/loader', '/boot/loader', '/efi/loader']) {
      if (!(await g.exists(`${base}/loader.conf`).catch(() => false))) continue;
      configs.push(`${base}/loader.conf`);
      kind = 'systemd-boot';
      entries = await bls(`${base}/entries`);
      break;
    }
  }
  if (!kind) warnings.push('no boot loader configuration found (GRUB 2, GRUB legacy, systemd-boot)');
  return { kind, configs, entries, default: entries[def] ?? entries[0] ?? null, defaults };
}

async function kernels(g: Guestfs): Promise<KernelFacts[]> {
  const boot = await list(g, '/boot');
  const moduleDirs = new Set([...(await list(g, '/lib/modules')), ...(await list(g, '/usr/lib/modules'))]);
  return boot
    .filter((n) => /^vmlinu[xz]-/.test(n) && !/rescue/.test(n))
    .map((n) => {
      const version = kernelVersionOf(n)!;
      const initrd = [
        `initramfs-${version}.img`,
        `initrd.img-${version}`,
        `initrd-${version}`,
        `initrd-${version}.img`,
      ].find((c) => boot.includes(c));
      return {
        version,
        vmlinuz: `/boot/${n}`,
        initramfs: initrd ? `/boot/${initrd}` : null,
        modules: moduleDirs.has(version),
      };
    });
}

async function initramfsFacts(
  g: Guestfs,
  path: string,
  kernel: string,
  signal?: AbortSignal,
): Promise<InitramfsFacts> {
  const base: InitramfsFacts = {
    path,
    kernel,
    bytes: 0,
    segments: [],
    complete: false,
    files: 0,
    modules: [],
    loadLists: {},
  };
  const st = await g.statns(path);
  base.bytes = Number(st.st_size);
  if (st.st_size > MAX_INITRAMFS_BYTES)
    return { ...base, error: `${st.st_size} bytes: larger than the ${MAX_INITRAMFS_BYTES} read` };
  const host = join(
    tmpdir(),
    `guestkit-initramfs-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  try {
    await g.download(path, host);
    const read = await readInitramfs(await readFile(host), { signal });
    const modules = new Set<string>();
    const loadLists: Record<string, string> = {};
    for (const [p, e] of read.files) {
      if (/\.ko(\.(xz|zst|gz))?$/.test(p)) modules.add(moduleName(p));
      if (p === 'conf/modules' || /^etc\/modules-load\.d\/.+\.conf$/.test(p) || p === 'etc/modules')
        loadLists[p] = e.data.toString('utf8');
    }
    return {
      ...base,
      segments: read.segments.map((s) => ({
        offset: s.offset,
        compression: s.compression,
        entries: s.members.length,
        ...(s.error ? { error: s.error } : {}),
      })),
      complete: read.complete,
      files: read.files.size,
      modules: [...modules].sort(),
      loadLists,
    };
  } finally {
    await rm(host, { force: true });
  }
}

async function network(g: Guestfs, report: InspectionReport): Promise<DoctorFacts['network']> {
  const bindings: NetworkBinding[] = [];
  for (const name of (await list(g, '/etc/sysconfig/network-scripts')).filter((n) =>
    n.startsWith('ifcfg-'),
  )) {
    const file = `/etc/sysconfig/network-scripts/${name}`;
    const vars = parseShellVars((await text(g, file)) ?? '');
    for (const key of ['HWADDR', 'MACADDR']) {
      if (vars[key]) bindings.push({ file, kind: 'ifcfg-hwaddr', detail: `${key}=${vars[key]}` });
    }
  }
  for (const name of await list(g, '/etc/udev/rules.d')) {
    if (!/persistent-net\.rules$/.test(name)) continue;
    const file = `/etc/udev/rules.d/${name}`;
    for (const line of ((await text(g, file)) ?? '').split('\n')) {
      const mac = /ATTR\{address\}=="([^"]+)"/.exec(line);
      const nm = /NAME="([^"]+)"/.exec(line);
      if (mac && !line.trim().startsWith('#'))
        bindings.push({ file, kind: 'persistent-net-rules', detail: `${mac[1]} → ${nm?.[1] ?? '?'}` });
    }
  }
  for (const name of (await list(g, '/etc/netplan')).filter((n) => /\.ya?ml$/.test(n))) {
    const file = `/etc/netplan/${name}`;
    for (const m of ((await text(g, file)) ?? '').matchAll(/macaddress:\s*["']?([0-9a-fA-F:]{17})/g)) {
      bindings.push({ file, kind: 'netplan-macaddress', detail: `match macaddress ${m[1]}` });
    }
  }
  for (const name of await list(g, '/etc/NetworkManager/system-connections')) {
    const file = `/etc/NetworkManager/system-connections/${name}`;
    const mac = /^\s*mac-address\s*=\s*(\S+)/m.exec((await text(g, file)) ?? '');
    if (mac) bindings.push({ file, kind: 'networkmanager-mac', detail: `mac-address=${mac[1]}` });
  }
  for (const name of (await list(g, '/etc/systemd/network')).filter((n) => /\.(link|network)$/.test(n))) {
    const file = `/etc/systemd/network/${name}`;
    const mac = /^\s*MACAddress\s*=\s*(\S+)/m.exec((await text(g, file)) ?? '');
    if (mac) bindings.push({ file, kind: 'networkd-mac', detail: `MACAddress=${mac[1]}` });
  }
  const ifupdown = (await text(g, '/etc/network/interfaces')) ?? '';
  for (const m of ifupdown.matchAll(/^\s*hwaddress\s+(?:ether\s+)?(\S+)/gm)) {
    bindings.push({
      file: '/etc/network/interfaces',
      kind: 'ifupdown-hwaddress',
      detail: `hwaddress ${m[1]}`,
    });
  }
  const interfaces = (report.network?.interfaces ?? []).map((i) => ({ name: i.name, file: i.file }));
  return { bindings, interfaces };
}

async function firmware(
  g: Guestfs,
  report: InspectionReport,
  disk: string | null,
): Promise<DoctorFacts['firmware']> {
  const espMount = ['/boot/efi', '/efi'].find((m) => report.mountpoints[m]);
  let esp: DoctorFacts['firmware']['esp'] = null;
  if (espMount) {
    const efiFiles: string[] = [];
    for (const vendor of await list(g, `${espMount}/EFI`)) {
      for (const f of await list(g, `${espMount}/EFI/${vendor}`))
        if (/\.efi$/i.test(f)) efiFiles.push(`${espMount}/EFI/${vendor}/${f}`);
    }
    esp = { mountpoint: espMount, efiFiles };
  }
  let grubBiosModules: string | null = null;
  for (const dir of ['/boot/grub2/i386-pc', '/boot/grub/i386-pc']) {
    if ((await list(g, dir)).length > 0) {
      grubBiosModules = dir;
      break;
    }
  }
  let mbr: DoctorFacts['firmware']['mbr'] = 'unknown';
  if (disk) {
    try {
      const sector = await g.preadDevice(disk, 440, 0);
      mbr = sector.every((b) => b === 0)
        ? 'empty'
        : sector.includes(Buffer.from('GRUB'))
          ? 'grub'
          : 'other-boot-code';
    } catch {
      mbr = 'unknown';
    }
  }
  const vfatFilesystems = report.filesystems.filter((f) => f.type === 'vfat').map((f) => f.device);
  return { esp, vfatFilesystems, grubBiosModules, mbr };
}

/** Everything the checks need from the mounted root `report` describes; `disk` is its real device. */
export async function collectDoctorFacts(
  g: Guestfs,
  report: InspectionReport,
  disk: string | null,
  signal?: AbortSignal,
): Promise<DoctorFacts> {
  const warnings: string[] = [];
  const crypttabText = await text(g, '/etc/crypttab');
  const ks = await kernels(g);
  const bl = await bootloader(g, warnings);
  const fromEntry = bl.default ? kernelVersionOf(bl.default.kernel) : null;
  const newest = [...ks].sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }))[0];
  const defaultKernel = fromEntry ?? newest?.version ?? null;
  let modules: ModuleIndex | null = null;
  let initramfs: InitramfsFacts | null = null;
  if (defaultKernel) {
    for (const base of ['/lib/modules', '/usr/lib/modules']) {
      const dep = await text(g, `${base}/${defaultKernel}/modules.dep`);
      if (dep === null) continue;
      modules = parseModulesDep(
        dep,
        (await text(g, `${base}/${defaultKernel}/modules.builtin`)) ?? '',
        `${base}/${defaultKernel}/modules.dep`,
      );
      break;
    }
    const kernel = ks.find((k) => k.version === defaultKernel);
    // The entry's own initrd line first: that is the file the boot loader loads.
    const entryInitrd = bl.default?.initrd ? [`/boot${bl.default.initrd}`, bl.default.initrd] : [];
    let path: string | null = null;
    for (const p of [...entryInitrd, kernel?.initramfs].filter((p): p is string => !!p)) {
      if (await g.isFile(p, { followsymlinks: true }).catch(() => false)) {
        path = p;
        break;
      }
    }
    if (path) {
      try {
        initramfs = await initramfsFacts(g, path, defaultKernel, signal);
      } catch (err) {
        signal?.throwIfAborted();
        initramfs = {
          path,
          kernel: defaultKernel,
          bytes: 0,
          segments: [],
          complete: false,
          files: 0,
          modules: [],
          loadLists: {},
          error: (err as Error).message,
        };
      }
    }
  }
  const gettys = [
    ...(await list(g, '/etc/systemd/system/getty.target.wants')),
    ...(await list(g, '/etc/systemd/system/multi-user.target.wants')),
  ].filter((n) => /getty@/.test(n));
  return {
    report,
    crypttab: crypttabText === null ? null : parseCrypttab(crypttabText),
    kernels: ks,
    bootloader: bl,
    defaultKernel,
    modules,
    initramfs,
    firmware: await firmware(g, report, disk),
    network: await network(g, report),
    autorelabel: await g.exists('/.autorelabel').catch(() => false),
    gettys,
    warnings,
  };
}

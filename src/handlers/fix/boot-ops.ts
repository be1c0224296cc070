// Fix operations for the boot path, run on the overlay by guestkit.fix and guestkit.repair:
//   initramfs_add_drivers  rebuild each kernel's initramfs with drivers from its /lib/modules
//                          (no guest binary runs: the archive is rebuilt here, see below)
//   bootloader_cmdline     root=UUID= and extra arguments in grub.cfg, BLS entries, grubenv and
//                          /etc/default/grub
//   selinux_autorelabel    /.autorelabel, so the guest relabels what was written offline
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rebuildInitramfs, readInitramfs, S_IFREG, type CpioEntry } from '../../../lib/initramfs/index.js';
import type { Guestfs } from '../../../lib/guestfs.js';
import { DRIVER_PATTERN, KERNEL_ARG_PATTERN } from '../../protocol/payloads/fix.js';
import { invalid, type Obj } from '../payload-fields.js';
import type { FixOperation, FixOutcome, GuestOs } from './operations.js';

const DRIVER = new RegExp(DRIVER_PATTERN);

const tempPath = (what: string) =>
  join(tmpdir(), `guestkit-${what}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);

async function textOf(g: Guestfs, path: string): Promise<string | null> {
  return (await g.isFile(path, { followsymlinks: true }).catch(() => false))
    ? (await g.readFile(path)).toString('utf8')
    : null;
}

/** modules.dep as name → {path, deps}: names with underscores, paths relative to the version dir. */
function moduleIndex(dep: string): Map<string, { path: string; deps: string[] }> {
  const name = (p: string) => (/([^/]+)\.ko(?:\.(?:xz|zst|gz))?$/.exec(p)?.[1] ?? '').replace(/-/g, '_');
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of dep.split('\n')) {
    const [path, rest] = line.split(':');
    if (path && rest !== undefined)
      out.set(name(path), { path, deps: rest.trim().split(/\s+/).filter(Boolean).map(name) });
  }
  return out;
}

const file = (path: string, data: Buffer): CpioEntry => ({
  path,
  mode: S_IFREG | 0o644,
  uid: 0,
  gid: 0,
  mtime: Math.floor(Date.now() / 1000),
  data,
});

/**
 * Adds drivers to every kernel's initramfs without running the guest's dracut/update-initramfs
 * (which would need the guest's arch and its whole userland working in the appliance): the
 * module files and their dependencies come from /lib/modules/<version>, with the guest's own
 * depmod indexes (modules.dep.bin…, for modprobe inside the initramfs), and a modules-load.d /
 * conf/modules list loads them early. The early microcode archive is kept; the rest is written
 * as one gzip stream.
 */
export const initramfsAddDriversOperation: FixOperation<{ drivers: string[] }> = {
  type: 'initramfs_add_drivers',
  description: "Adds kernel drivers (from the guest's /lib/modules) to each kernel's initramfs",
  needs: 'mounted',
  validateOptions(o: Obj, field) {
    const drivers = o.drivers;
    if (
      !Array.isArray(drivers) ||
      drivers.length === 0 ||
      !drivers.every((d) => typeof d === 'string' && DRIVER.test(d))
    ) {
      throw invalid(
        `${field}.drivers`,
        'must be a non-empty list of module names (virtio_blk, virtio_scsi…)',
      );
    }
    return { drivers: [...new Set(drivers.map((d: string) => d.replace(/-/g, '_')))] };
  },
  async run({ g, options, log, signal }): Promise<FixOutcome> {
    const boot = (await g.isDir('/boot')) ? await g.ls('/boot') : [];
    const done: Record<string, string[]> = {};
    for (const vmlinuz of boot.filter((n) => /^vmlinuz-/.test(n))) {
      const version = vmlinuz.slice(8);
      const initrd = [`initramfs-${version}.img`, `initrd.img-${version}`, `initrd-${version}`].find((n) =>
        boot.includes(n),
      );
      const base = ['/lib/modules', '/usr/lib/modules'].map((b) => `${b}/${version}`);
      let modDir: string | null = null;
      for (const b of base) if (await g.isFile(`${b}/modules.dep`, { followsymlinks: true })) modDir ??= b;
      if (!initrd || !modDir) {
        log(`${version}: ${initrd ? 'no modules.dep' : 'no initramfs'}, skipped`);
        continue;
      }
      const config = await textOf(g, `/boot/config-${version}`);
      if (config && /^# CONFIG_RD_GZIP is not set/m.test(config)) {
        return {
          status: 'failed',
          message: `Kernel ${version} cannot read a gzip initramfs (CONFIG_RD_GZIP not set)`,
          changed: false,
        };
      }
      const index = moduleIndex((await textOf(g, `${modDir}/modules.dep`)) ?? '');
      const builtin = new Set(
        ((await textOf(g, `${modDir}/modules.builtin`)) ?? '')
          .split('\n')
          .map((l) => (/([^/]+)\.ko$/.exec(l.trim())?.[1] ?? '').replace(/-/g, '_')),
      );
      const wanted = new Set<string>();
      const stack = options.drivers.filter((d) => !builtin.has(d));
      const missing = stack.filter((d) => !index.has(d));
      if (missing.length) {
        return {
          status: 'failed',
          message: `Kernel ${version} has no module ${missing.join(', ')} in ${modDir}; install a kernel that has it`,
          changed: false,
        };
      }
      while (stack.length) {
        const m = stack.pop()!;
        if (wanted.has(m) || builtin.has(m)) continue;
        wanted.add(m);
        stack.push(...(index.get(m)?.deps ?? []));
      }
      const host = tempPath('initramfs');
      try {
        await g.download(`/boot/${initrd}`, host);
        const original = await readFile(host);
        const current = await readInitramfs(original, { signal });
        // Keep the archive's own layout (usr/lib/modules on merged-/usr guests).
        const prefix = [...current.files.keys()].some((p) => p.startsWith('usr/lib/modules/'))
          ? 'usr/lib/modules'
          : 'lib/modules';
        const extra: CpioEntry[] = [];
        for (const m of wanted)
          extra.push(
            file(
              `${prefix}/${version}/${index.get(m)!.path}`,
              await g.readFile(`${modDir}/${index.get(m)!.path}`),
            ),
          );
        for (const name of await g.ls(modDir)) {
          if (/^modules\./.test(name) && (await g.isFile(`${modDir}/${name}`)))
            extra.push(file(`${prefix}/${version}/${name}`, await g.readFile(`${modDir}/${name}`)));
        }
        const load = [...wanted].sort().join('\n') + '\n';
        extra.push(file('etc/modules-load.d/guestkit-drivers.conf', Buffer.from(load)));
        const confModules = current.files.get('conf/modules');
        if (confModules)
          extra.push(file('conf/modules', Buffer.concat([confModules.data, Buffer.from(load)])));
        const rebuilt = await rebuildInitramfs(original, extra, { signal });
        await writeFile(host, rebuilt);
        await g.upload(host, `/boot/${initrd}`);
        log(
          `/boot/${initrd}: added ${[...wanted].sort().join(' ')} (${original.length} → ${rebuilt.length} bytes)`,
        );
        done[version] = [...wanted].sort();
      } finally {
        await rm(host, { force: true });
      }
    }
    if (Object.keys(done).length === 0) {
      return {
        status: 'failed',
        message: 'No kernel with both an initramfs and modules.dep in the guest',
        changed: false,
      };
    }
    return {
      status: 'success',
      message: `Added ${options.drivers.join(', ')} to the initramfs of ${Object.keys(done).join(', ')}`,
      changed: true,
      details: { kernels: done },
    };
  },
};

const ARG = new RegExp(KERNEL_ARG_PATTERN);

interface CmdlineOptions {
  root: 'uuid' | null;
  add: string[];
}

/** Rewrites a command line: root= to `root` when given, `add` arguments replacing same-key ones. */
export function editCmdline(cmdline: string, root: string | null, add: readonly string[]): string {
  let args = cmdline.split(/\s+/).filter(Boolean);
  if (root) args = args.map((a) => (a.startsWith('root=') ? `root=${root}` : a));
  for (const a of add) {
    const key = a.includes('=') ? a.slice(0, a.indexOf('=') + 1) : a;
    // console= may repeat (tty0 and ttyS0): only identical ones are dropped.
    args =
      key === 'console=' ? args.filter((x) => x !== a) : args.filter((x) => !(x === a || x.startsWith(key)));
    args.push(a);
  }
  return args.join(' ');
}

/** Applies editCmdline to every boot loader file of the guest; returns the files changed. */
export async function editBootCommandLines(
  g: Guestfs,
  os: GuestOs,
  opts: CmdlineOptions,
  log: (l: string) => void,
): Promise<string[]> {
  const root = opts.root === 'uuid' ? `UUID=${await g.vfsUuid(os.root)}` : null;
  const changed: string[] = [];
  const rewrite = async (path: string, edit: (text: string) => string) => {
    const text = await textOf(g, path);
    if (text === null) return;
    const next = edit(text);
    if (next !== text) {
      await g.write(path, next);
      changed.push(path);
      log(`${path}: kernel command line updated`);
    }
  };
  const kernelLines = (t: string) =>
    t.replace(
      /^(\s*(?:linux|linux16|linuxefi|kernel)\s+\S+)(.*)$/gm,
      (_, head: string, rest: string) => `${head} ${editCmdline(rest, root, opts.add)}`,
    );
  for (const p of [
    '/boot/grub2/grub.cfg',
    '/boot/grub/grub.cfg',
    '/boot/grub/menu.lst',
    '/boot/grub/grub.conf',
  ])
    await rewrite(p, kernelLines);
  for (const dir of ['/boot/loader/entries', '/boot/efi/loader/entries']) {
    if (!(await g.isDir(dir).catch(() => false))) continue;
    for (const name of (await g.ls(dir)).filter((n) => n.endsWith('.conf'))) {
      await rewrite(`${dir}/${name}`, (t) =>
        t.replace(
          /^(options\s+)(.*)$/m,
          (_, h: string, rest: string) => `${h}${editCmdline(rest, root, opts.add)}`,
        ),
      );
    }
  }
  for (const p of ['/boot/grub2/grubenv', '/boot/grub/grubenv']) {
    // grubenv is a fixed 1024-byte block: keep its size.
    await rewrite(p, (t) => {
      const next = t.replace(
        /^kernelopts=(.*)$/m,
        (_, rest: string) => `kernelopts=${editCmdline(rest, root, opts.add)}`,
      );
      const pad = t.length - next.length;
      return pad >= 0 ? next.replace(/#+$/, (h) => '#'.repeat(Math.max(0, h.length + pad))) : t;
    });
  }
  await rewrite('/etc/default/grub', (t) =>
    t.replace(
      /^GRUB_CMDLINE_LINUX=(["']?)(.*?)\1\s*$/m,
      (_, q: string, rest: string) => `GRUB_CMDLINE_LINUX="${editCmdline(rest, null, opts.add)}"`,
    ),
  );
  return changed;
}

export const bootloaderCmdlineOperation: FixOperation<CmdlineOptions> = {
  type: 'bootloader_cmdline',
  description: 'Sets root=UUID= and adds kernel arguments in every boot loader configuration file',
  needs: 'mounted',
  validateOptions(o: Obj, field) {
    const root = o.root === undefined ? null : o.root;
    if (root !== null && root !== 'uuid') throw invalid(`${field}.root`, "must be 'uuid'");
    const add = o.add ?? [];
    if (!Array.isArray(add) || !add.every((a) => typeof a === 'string' && ARG.test(a))) {
      throw invalid(
        `${field}.add`,
        'must be a list of kernel arguments (console=ttyS0,115200n8, net.ifnames=0…)',
      );
    }
    if (!root && add.length === 0) throw invalid(field, 'needs root or add');
    return { root, add: add as string[] };
  },
  async run({ g, os, options, log }) {
    const files = await editBootCommandLines(g, os, options, log);
    if (files.length === 0) {
      return {
        status: 'failed',
        message: 'No boot loader configuration to edit (grub.cfg, BLS entries, menu.lst)',
        changed: false,
      };
    }
    return {
      status: 'success',
      message: `Kernel command line updated in ${files.join(', ')}`,
      changed: true,
      details: { files },
    };
  },
};

export const selinuxAutorelabelOperation: FixOperation<Record<string, never>> = {
  type: 'selinux_autorelabel',
  description: 'Creates /.autorelabel so an SELinux guest relabels its files at first boot',
  needs: 'mounted',
  validateOptions: () => ({}),
  async run({ g, log }) {
    const config = (await textOf(g, '/etc/selinux/config')) ?? '';
    if (/^\s*SELINUX\s*=\s*disabled/m.test(config) || !config) {
      return {
        status: 'skipped',
        message: 'SELinux is disabled or absent: nothing to relabel',
        changed: false,
      };
    }
    await g.touch('/.autorelabel');
    log('/.autorelabel created');
    return {
      status: 'success',
      message: 'The guest relabels its files at first boot (/.autorelabel)',
      changed: true,
    };
  },
};

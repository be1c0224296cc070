// Checks of what the boot path reads: fstab, crypttab, kernel + initramfs, the boot loader and
// its root=, firmware, the drivers in the initramfs that boots, the console.
import { consoles } from './boot-config.js';
import { optional, resolveDevice, VIRTUAL_FS } from './resolve.js';
import { fail, pass } from './outcome.js';
import type { CheckDefinition, FixAction } from './types.js';

export const fstabCheck: CheckDefinition = {
  id: 'BOOT-001',
  name: 'fstab references resolve',
  category: 'storage',
  weight: 15,
  run({ facts, target }) {
    const fstab = facts.report.storage?.fstab ?? [];
    const entries = fstab
      .filter(
        (e) =>
          !VIRTUAL_FS.has(e.type) &&
          !(e.type === 'swap' && e.spec.startsWith('/') && !e.spec.startsWith('/dev/')),
      )
      .map((e) => ({ ...e, resolution: resolveDevice(e.spec, facts.report) }));
    const evidence = {
      read: ['/etc/fstab', 'filesystem superblocks of the disk'],
      entries: entries.map((e) => ({
        spec: e.spec,
        mountpoint: e.mountpoint,
        optional: optional(e.options),
        ...e.resolution,
      })),
    };
    const required = entries.filter((e) => !optional(e.options));
    const missing = required.filter(
      (e) =>
        e.resolution.status === 'missing' || (e.resolution.status === 'bus-name' && !e.resolution.device),
    );
    const bus = required.filter((e) => e.resolution.status === 'bus-name' && e.resolution.device);
    if (fstab.length === 0)
      return fail(
        'blocker',
        'The guest has no /etc/fstab entries',
        evidence,
        'Write /etc/fstab with the root filesystem by UUID=.',
      );
    if (missing.length) {
      return fail(
        'blocker',
        `${missing.map((e) => `${e.spec} (${e.mountpoint})`).join(', ')} matches no filesystem on the disk: systemd stops in emergency mode`,
        evidence,
        'Fix or remove these fstab lines, or add nofail to the ones that are not needed to boot (the disk they name was not migrated).',
      );
    }
    if (bus.length && target.renamesDisks) {
      return fail(
        'blocker',
        `${bus.map((e) => `${e.spec} (${e.mountpoint})`).join(', ')} named by bus: on ${target.name} the disk is another device (vda, nvme0n1)`,
        evidence,
        'Name filesystems by UUID= in /etc/fstab (blkid shows them).',
        [{ type: 'fstab_stable_names' }],
      );
    }
    return pass(`${entries.length} fstab reference(s) resolve to filesystems on the disk`, evidence);
  },
};

export const crypttabCheck: CheckDefinition = {
  id: 'BOOT-002',
  name: 'crypttab entries resolve',
  category: 'storage',
  weight: 8,
  run({ facts }) {
    if (facts.crypttab === null)
      return pass('No /etc/crypttab: nothing to unlock at boot', { read: ['/etc/crypttab (absent)'] });
    const entries = facts.crypttab.map((e) => ({ ...e, resolution: resolveDevice(e.source, facts.report) }));
    const luks = new Set(
      facts.report.filesystems.filter((f) => f.type === 'crypto_LUKS').map((f) => f.device),
    );
    const bad = entries.filter(
      (e) =>
        e.resolution.status === 'missing' ||
        (e.resolution.status === 'found' &&
          !luks.has(e.resolution.device) &&
          !/plain|swap|tmp/.test(e.options)),
    );
    const evidence = { read: ['/etc/crypttab', 'filesystem superblocks of the disk'], entries };
    if (bad.length && entries.some((e) => !optional(e.options) && bad.includes(e))) {
      return fail(
        'blocker',
        `crypttab ${bad.map((e) => `${e.name} → ${e.source}`).join(', ')}: no LUKS device matches; the boot waits for it and fails`,
        evidence,
        'Point the crypttab entries at the LUKS partitions that were migrated (UUID= of the crypto_LUKS device), or add nofail.',
      );
    }
    return pass(
      `${entries.length} crypttab entr${entries.length === 1 ? 'y resolves' : 'ies resolve'}`,
      evidence,
    );
  },
};

export const initramfsPresenceCheck: CheckDefinition = {
  id: 'BOOT-003',
  name: 'Kernel and matching initramfs',
  category: 'boot',
  weight: 15,
  run({ facts }) {
    const evidence = {
      read: ['/boot', '/lib/modules'],
      kernels: facts.kernels,
      default_kernel: facts.defaultKernel,
    };
    if (facts.kernels.length === 0)
      return fail('blocker', 'No kernel (vmlinuz-*) in /boot', evidence, 'Install a kernel package.');
    const def = facts.kernels.find((k) => k.version === facts.defaultKernel);
    if (!def)
      return fail(
        'blocker',
        `The boot loader's default kernel ${facts.defaultKernel} is not in /boot`,
        evidence,
        'Regenerate the boot loader configuration (grub2-mkconfig / update-grub).',
      );
    if (!def.initramfs) {
      return fail(
        'blocker',
        `The default kernel ${def.version} has no initramfs in /boot`,
        evidence,
        `Build it in the guest: dracut -f --kver ${def.version} (or update-initramfs -c -k ${def.version}), or make a kernel that has one the default.`,
      );
    }
    if (facts.initramfs?.error || (facts.initramfs && !facts.initramfs.complete)) {
      return fail(
        'blocker',
        `${def.initramfs} cannot be read: ${facts.initramfs.error ?? 'a segment is corrupt or in an unknown format'}`,
        { ...evidence, initramfs: facts.initramfs },
        'Rebuild the initramfs (dracut -f / update-initramfs -u).',
      );
    }
    if (!def.modules)
      return fail(
        'warning',
        `No /lib/modules/${def.version}: the kernel boots without loadable modules`,
        evidence,
        'Reinstall the kernel package so its modules are present.',
      );
    return pass(`Kernel ${def.version} has ${def.initramfs} and its modules`, evidence);
  },
};

export const bootloaderCheck: CheckDefinition = {
  id: 'BOOT-004',
  name: 'Boot loader configuration and root=',
  category: 'boot',
  weight: 15,
  run({ facts, target }) {
    const bl = facts.bootloader;
    const evidence = {
      read: bl.configs.length
        ? bl.configs
        : ['/boot/grub2/grub.cfg', '/boot/grub/grub.cfg', '/boot/grub/menu.lst', '/boot/loader'],
      kind: bl.kind,
      default_entry: bl.default,
      entries: bl.entries.length,
    };
    if (!bl.kind || !bl.default)
      return fail(
        'blocker',
        'No boot loader entry found (GRUB 2, GRUB legacy or systemd-boot)',
        evidence,
        'Install the boot loader and generate its configuration (grub2-mkconfig -o …).',
      );
    const root = bl.default.root;
    if (!root)
      return fail(
        'blocker',
        `The default entry (${bl.default.source}) has no root= argument`,
        evidence,
        'Add root=UUID=<root filesystem UUID> to the kernel command line.',
      );
    const r = resolveDevice(root, facts.report);
    const fstabRoot = facts.report.storage?.fstab.find((e) => e.mountpoint === '/');
    const full = { ...evidence, root, resolution: r, fstab_root: fstabRoot?.spec ?? null };
    if (r.status === 'missing' || (r.status === 'bus-name' && !r.device)) {
      return fail(
        'blocker',
        `root=${root} in ${bl.default.source}: ${r.how}`,
        full,
        'Set root=UUID=<the root filesystem UUID> in the boot loader configuration and /etc/default/grub.',
        [{ type: 'bootloader_cmdline', options: { root: 'uuid' } }],
      );
    }
    if (r.status === 'bus-name' && target.renamesDisks) {
      return fail(
        'blocker',
        `root=${root}: named by bus, the root disk is another device on ${target.name}`,
        full,
        'Use root=UUID=<root filesystem UUID>.',
        [{ type: 'bootloader_cmdline', options: { root: 'uuid' } }],
      );
    }
    return pass(`${bl.kind}: default entry boots ${bl.default.kernel} with root=${root}`, full);
  },
};

export const firmwareCheck: CheckDefinition = {
  id: 'BOOT-005',
  name: 'Firmware (BIOS / EFI) the target can boot',
  category: 'boot',
  weight: 8,
  run({ facts, target }) {
    const fw = facts.firmware;
    const efi = !!fw.esp && fw.esp.efiFiles.length > 0;
    const bios = fw.mbr === 'grub' || (fw.grubBiosModules !== null && fw.mbr !== 'empty');
    const evidence = {
      read: ['first sector of the disk', '/boot/grub*/i386-pc', '/boot/efi/EFI'],
      efi: fw.esp,
      bios: { mbr: fw.mbr, grub_modules: fw.grubBiosModules },
      vfat: fw.vfatFilesystems,
    };
    if (!efi && !bios)
      return fail(
        'blocker',
        'Neither BIOS boot code nor an EFI system partition with a boot loader was found',
        evidence,
        'Install the boot loader (grub2-install for BIOS, or the shim/grub EFI packages on an ESP).',
      );
    if (bios) return pass(`Boots with BIOS${efi ? ' and EFI' : ''}; ${target.name} supports it`, evidence);
    if (!target.firmware.efi)
      return fail(
        'blocker',
        `EFI-only guest: ${target.name} boots BIOS guests only`,
        evidence,
        'Install GRUB for BIOS (grub2-install --target=i386-pc) before the move.',
      );
    return fail(
      'warning',
      `EFI-only guest (${fw.esp!.efiFiles.join(', ')}): the VM must use EFI firmware`,
      evidence,
      target.firmware.note ?? 'Create the VM with EFI firmware.',
    );
  },
};

/** Names the initramfs must carry for `wanted`: the module and the modules it depends on. */
function closure(name: string, index: Record<string, { deps: string[] }>): string[] {
  const out = new Set<string>([name]);
  const stack = [name];
  while (stack.length) {
    for (const d of index[stack.pop()!]?.deps ?? []) {
      if (out.has(d)) continue;
      out.add(d);
      stack.push(d);
    }
  }
  return [...out];
}

export const virtioCheck: CheckDefinition = {
  id: 'BOOT-006',
  name: 'Target drivers in the initramfs that boots',
  category: 'driver',
  weight: 20,
  run({ facts, target }) {
    const ird = facts.initramfs;
    const mods = facts.modules;
    const evidence = {
      read: [ird?.path ?? '/boot/initramfs (none)', mods?.source ?? 'modules.dep (absent)'],
      initramfs: ird && {
        path: ird.path,
        kernel: ird.kernel,
        segments: ird.segments,
        files: ird.files,
        modules: ird.modules,
      },
      builtin:
        mods?.builtin.filter((m) =>
          [...target.storageDrivers, ...target.busDrivers, ...target.netDrivers].includes(m),
        ) ?? [],
    };
    if (!ird || ird.error || !ird.complete)
      return fail(
        'blocker',
        'The initramfs that boots could not be read, so its drivers are unknown',
        evidence,
        'See BOOT-003.',
      );
    const builtin = new Set(mods?.builtin ?? []);
    const inImage = new Set(ird.modules);
    const have = (m: string) =>
      builtin.has(m) || closure(m, mods?.modules ?? {}).every((d) => builtin.has(d) || inImage.has(d));
    const inTree = (m: string) => builtin.has(m) || !!mods?.modules[m];
    const storage = target.storageDrivers.filter(have);
    const bus = target.busDrivers.filter((m) => !have(m));
    const net = target.netDrivers.filter(have);
    const status = { storage_present: storage, bus_missing: bus, net_present: net };
    const addable = [...target.storageDrivers, ...target.busDrivers, ...target.netDrivers].filter(
      (m) => !have(m) && inTree(m) && !builtin.has(m),
    );
    const fix: FixAction[] = addable.length
      ? [{ type: 'initramfs_add_drivers', options: { drivers: addable } }]
      : [];
    const where = `${ird.path} (${ird.segments.map((s) => s.compression).join('+')}, ${ird.files} files)`;
    if (storage.length === 0 || bus.length) {
      const missing = [...(storage.length ? [] : target.storageDrivers), ...bus];
      return fail(
        'blocker',
        `${missing.join(', ')} not in ${where} nor built into ${ird.kernel}: the root disk is invisible on ${target.name}` +
          (missing.some(inTree) ? ' (the modules are in /lib/modules, not in the initramfs)' : ''),
        { ...evidence, ...status },
        fix.length
          ? `Add ${addable.join(' ')} to the initramfs: dracut -f --add-drivers "${addable.join(' ')}" --kver ${ird.kernel} (or list them in /etc/initramfs-tools/modules and update-initramfs -u).`
          : `Install a kernel that has ${missing.join(' / ')}, then rebuild the initramfs.`,
        fix,
      );
    }
    if (net.length === 0) {
      return fail(
        'warning',
        `No ${target.netDrivers.join(' / ')} in ${where}: the NIC comes up only after the root filesystem mounts`,
        { ...evidence, ...status },
        'Add the NIC driver to the initramfs (needed for network root or early networking only).',
        fix,
      );
    }
    return pass(`${[...storage, ...target.busDrivers, ...net].join(', ')} available at boot from ${where}`, {
      ...evidence,
      ...status,
    });
  },
};

export const serialConsoleCheck: CheckDefinition = {
  id: 'BOOT-015',
  name: 'Serial console',
  category: 'boot',
  weight: 5,
  run({ facts, target }) {
    const cmdline = facts.bootloader.default?.cmdline ?? '';
    const serial = consoles(cmdline).filter((c) => /^ttyS\d/.test(c));
    const gettys = facts.gettys.filter((g) => /ttyS\d/.test(g));
    const evidence = {
      read: [facts.bootloader.default?.source ?? 'boot loader', '/etc/systemd/system/getty.target.wants'],
      consoles: consoles(cmdline),
      serial_gettys: gettys,
    };
    if (!target.serialConsole) return pass(`${target.name} does not need a serial console`, evidence);
    if (serial.length || gettys.length)
      return pass(`Serial console on ${[...serial, ...gettys].join(', ')}`, evidence);
    return fail(
      'warning',
      `No console=ttyS0 on the kernel command line: ${target.name}'s console (serial) stays blank`,
      evidence,
      'Add console=tty0 console=ttyS0,115200n8 to GRUB_CMDLINE_LINUX and regenerate the boot loader configuration.',
      [{ type: 'bootloader_cmdline', options: { add: ['console=tty0', 'console=ttyS0,115200n8'] } }],
    );
  },
};

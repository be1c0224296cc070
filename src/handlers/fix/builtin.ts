// The bundled fix operations: fsck, selinux_relabel, initramfs_regenerate, set_hostname,
// reset_machine_id. Each reports a clear failed status (with what to do) instead of guessing.
import { HOSTNAME_LABEL_PATTERN } from '../../protocol/payloads/fix.js';
import { bool, invalid, str, type Obj } from '../payload-fields.js';
import {
  bootloaderCmdlineOperation,
  initramfsAddDriversOperation,
  selinuxAutorelabelOperation,
} from './boot-ops.js';
import {
  fstabStableNamesOperation,
  networkPortableOperation,
  serviceDisableOperation,
  serviceEnableOperation,
} from './guest-ops.js';
import {
  FixOperationRegistry,
  hostArch,
  RHEL_FAMILY,
  type FixOperation,
  type FixOperationContext,
  type FixOutcome,
} from './operations.js';

const noOptions = (): Record<string, never> => ({});

interface FsckOptions {
  autoRepair: boolean;
  forceAll: boolean;
}

/** e2fsck / xfs_repair / fsck over every filesystem of the guest, with nothing mounted. */
export const fsckOperation: FixOperation<FsckOptions> = {
  type: 'fsck',
  description: 'Checks (and with auto_repair, repairs) every filesystem of the guest',
  needs: 'unmounted',
  validateOptions(o, field) {
    const opts = {
      autoRepair: bool(o.auto_repair, `${field}.auto_repair`, true),
      forceAll: bool(o.force_all, `${field}.force_all`, false),
    };
    if (opts.forceAll && !opts.autoRepair) throw invalid(`${field}.force_all`, 'needs auto_repair: true');
    return opts;
  },
  async run({ g, os, options, log }) {
    const types = await g.listFilesystems();
    const results: { device: string; type: string; result: string }[] = [];
    let repaired = false;
    for (const device of os.filesystems) {
      const type = types[device] ?? 'unknown';
      let result: string;
      if (/^ext[234]$/.test(type)) {
        // -p repairs what is safe to repair unattended; -y answers yes to everything.
        await g.e2fsck(device, options.forceAll ? { forceall: true } : { correct: options.autoRepair });
        result = options.autoRepair ? 'clean or repaired (e2fsck)' : 'clean (e2fsck)';
      } else if (type === 'xfs') {
        const status = await g.xfsRepair(device, { nomodify: !options.autoRepair });
        if (status !== 0 && !options.autoRepair) {
          log(`${device}: xfs_repair -n found problems`);
          results.push({ device, type, result: 'problems found' });
          return {
            status: 'failed',
            message: `xfs_repair found problems on ${device}; run fsck with auto_repair: true to repair them`,
            changed: false,
            details: { filesystems: results },
          };
        }
        repaired ||= options.autoRepair;
        result = options.autoRepair ? 'clean or repaired (xfs_repair)' : 'clean (xfs_repair -n)';
      } else if (type === 'vfat' && options.autoRepair) {
        const status = await g.fsck(type, device);
        if (status & ~1) throw new Error(`fsck.vfat on ${device} exited with status ${status}`);
        repaired ||= (status & 1) === 1;
        result = status & 1 ? 'repaired (fsck.vfat)' : 'clean (fsck.vfat)';
      } else {
        result = `skipped (no checker for ${type})`;
      }
      log(`${device} (${type}): ${result}`);
      results.push({ device, type, result });
    }
    const checked = results.filter((r) => !r.result.startsWith('skipped')).length;
    return {
      status: 'success',
      message: `Checked ${checked} filesystem(s)`,
      changed: repaired,
      details: { filesystems: results },
    };
  },
};

/** Relabels with the guest's own policy (setfiles in the appliance); no policy → failed. */
export const selinuxRelabelOperation: FixOperation<Record<string, never>> = {
  type: 'selinux_relabel',
  description: "Relabels every file with the guest's SELinux policy",
  needs: 'mounted',
  validateOptions: noOptions,
  async run({ g, log }) {
    if (!(await g.isFile('/etc/selinux/config'))) {
      return {
        status: 'failed',
        message:
          'The guest has no SELinux configuration (/etc/selinux/config), so there is no policy to relabel with',
        changed: false,
      };
    }
    const config = await g.readLines('/etc/selinux/config');
    const policy = /^\s*SELINUXTYPE\s*=\s*"?([\w-]+)"?/m.exec(config.join('\n'))?.[1] ?? 'targeted';
    const specfile = `/etc/selinux/${policy}/contexts/files/file_contexts`;
    if (!(await g.isFile(specfile))) {
      return {
        status: 'failed',
        message:
          `The guest's SELinux policy '${policy}' is not installed (no ${specfile}); ` +
          `install the policy package in the guest or drop selinux_relabel`,
        changed: false,
        details: { policy },
      };
    }
    if (!(await g.featureAvailable(['selinuxrelabel']))) {
      // No setfiles in this appliance: let the guest relabel itself at its next boot.
      await g.touch('/.autorelabel');
      log('setfiles is not in the appliance: created /.autorelabel');
      return {
        status: 'success',
        message: 'The appliance has no setfiles; /.autorelabel makes the guest relabel at next boot',
        changed: true,
        details: { policy, method: 'autorelabel' },
      };
    }
    await g.selinuxRelabel(specfile, '/', { force: true });
    log(`relabelled / with ${specfile}`);
    return {
      status: 'success',
      message: `Relabelled with policy '${policy}'`,
      changed: true,
      details: { policy },
    };
  },
};

async function firstExisting(g: FixOperationContext<unknown>['g'], paths: string[]): Promise<string | null> {
  for (const p of paths) if (await g.isFile(p, { followsymlinks: true })) return p;
  return null;
}

/** The guest's own dracut / update-initramfs / mkinitramfs, run inside the guest (same arch only). */
export const initramfsOperation: FixOperation<Record<string, never>> = {
  type: 'initramfs_regenerate',
  description: "Rebuilds the initramfs of every installed kernel with the guest's own tool",
  needs: 'mounted',
  validateOptions: noOptions,
  async run({ g, os, log }): Promise<FixOutcome> {
    const host = hostArch();
    if (os.arch !== host) {
      return {
        status: 'failed',
        message: `The guest is ${os.arch} and this host is ${host}: the guest's initramfs tools cannot run here; use a ${os.arch} worker`,
        changed: false,
      };
    }
    const kernels = (await g.isDir('/lib/modules', { followsymlinks: true }))
      ? await g.ls('/lib/modules')
      : [];
    if (kernels.length === 0) {
      return {
        status: 'failed',
        message: 'The guest has no kernel modules under /lib/modules',
        changed: false,
      };
    }
    const bins = (name: string) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].map((d) => `${d}/${name}`);
    const dracut = await firstExisting(g, bins('dracut'));
    const update = dracut ? null : await firstExisting(g, bins('update-initramfs'));
    const mkinit = dracut || update ? null : await firstExisting(g, bins('mkinitramfs'));
    const commands: string[][] = dracut
      ? kernels.map((k) => [dracut, '-f', '--kver', k])
      : update
        ? [[update, '-u', '-k', 'all']]
        : mkinit
          ? kernels.map((k) => [mkinit, '-o', `/boot/initrd.img-${k}`, k])
          : [];
    if (commands.length === 0) {
      return {
        status: 'failed',
        message: 'No initramfs tool (dracut, update-initramfs, mkinitramfs) in the guest; install one first',
        changed: false,
      };
    }
    for (const argv of commands) {
      log(`$ ${argv.join(' ')}`);
      const out = await g.command(argv);
      for (const line of out.split('\n').filter(Boolean).slice(-50)) log(line);
    }
    return {
      status: 'success',
      message: `Regenerated the initramfs for ${kernels.join(', ')} with ${commands[0][0]}`,
      changed: true,
      details: { kernels, tool: commands[0][0] },
    };
  },
};

const HOSTNAME_LABEL = new RegExp(HOSTNAME_LABEL_PATTERN, 'i');

export const setHostnameOperation: FixOperation<{ hostname: string }> = {
  type: 'set_hostname',
  description: 'Writes /etc/hostname (and HOSTNAME= in /etc/sysconfig/network on RHEL-family guests)',
  needs: 'mounted',
  validateOptions(o: Obj, field) {
    const hostname = (str(o.hostname, `${field}.hostname`, true) as string).trim();
    // HOST_NAME_MAX is 64 on Linux; every dot-separated label must be a valid DNS label.
    if (hostname.length > 64 || !hostname.split('.').every((l) => HOSTNAME_LABEL.test(l))) {
      throw invalid(
        `${field}.hostname`,
        'must be a host name of at most 64 characters: letters, digits, hyphens, dot-separated labels',
      );
    }
    return { hostname };
  },
  async run({ g, os, options, log }) {
    const previous = (await g.isFile('/etc/hostname')) ? (await g.readLines('/etc/hostname'))[0]?.trim() : '';
    await g.write('/etc/hostname', `${options.hostname}\n`);
    log(`/etc/hostname: '${previous ?? ''}' → '${options.hostname}'`);
    const files = ['/etc/hostname'];
    if (RHEL_FAMILY.has(os.distro) && (await g.isFile('/etc/sysconfig/network'))) {
      const lines = await g.readLines('/etc/sysconfig/network');
      const kept = lines.filter((l) => !/^\s*HOSTNAME\s*=/.test(l));
      while (kept.length && kept[kept.length - 1] === '') kept.pop();
      await g.write('/etc/sysconfig/network', `${[...kept, `HOSTNAME=${options.hostname}`].join('\n')}\n`);
      log(`/etc/sysconfig/network: HOSTNAME=${options.hostname}`);
      files.push('/etc/sysconfig/network');
    }
    return {
      status: 'success',
      message: `Host name set to ${options.hostname}`,
      changed: previous !== options.hostname,
      details: { previous: previous ?? null, hostname: options.hostname, files },
    };
  },
};

export const resetMachineIdOperation: FixOperation<Record<string, never>> = {
  type: 'reset_machine_id',
  description: 'Empties /etc/machine-id (systemd makes a new one at next boot)',
  needs: 'mounted',
  validateOptions: noOptions,
  async run({ g, log }) {
    let changed = false;
    if (await g.isFile('/etc/machine-id')) {
      changed = (await g.readLines('/etc/machine-id')).join('').trim() !== '';
      await g.truncate('/etc/machine-id');
      log('/etc/machine-id truncated');
    } else {
      log('/etc/machine-id absent: nothing to reset');
    }
    // A regular-file copy (not the usual symlink) would keep the old id alive for D-Bus.
    if ((await g.isFile('/var/lib/dbus/machine-id')) && !(await g.isSymlink('/var/lib/dbus/machine-id'))) {
      await g.rm('/var/lib/dbus/machine-id');
      log('/var/lib/dbus/machine-id removed');
      changed = true;
    }
    return {
      status: 'success',
      message: changed ? 'Machine id reset' : 'No machine id to reset',
      changed,
    };
  },
};

/** The registry guestkit.fix uses unless given another (the migration steps included). */
export const defaultFixOperations = new FixOperationRegistry()
  .register(fsckOperation)
  .register(selinuxRelabelOperation)
  .register(initramfsOperation)
  .register(setHostnameOperation)
  .register(resetMachineIdOperation)
  .register(initramfsAddDriversOperation)
  .register(bootloaderCmdlineOperation)
  .register(selinuxAutorelabelOperation)
  .register(fstabStableNamesOperation)
  .register(networkPortableOperation)
  .register(serviceDisableOperation)
  .register(serviceEnableOperation);

// Fix operations on guest configuration, run on the overlay by guestkit.fix and guestkit.repair:
//   fstab_stable_names   /dev/sdX entries → UUID= of the filesystem mounted there
//   network_portable     no MAC bindings; slot-named interfaces renamed eth<N> with net.ifnames=0
//   service_disable      remove systemd enablement links of units
//   service_enable       add them (multi-user.target.wants)
import { UNIT_PATTERN } from '../../protocol/payloads/fix.js';
import { invalid, type Obj } from '../payload-fields.js';
import { editBootCommandLines } from './boot-ops.js';
import type { FixOperation, FixOutcome } from './operations.js';

const BUS_NAME = /^\/dev\/((?:[shv]d|xvd)[a-z]+\d*|nvme\d+n\d+(?:p\d+)?)$/;
const UNIT = new RegExp(UNIT_PATTERN);
const HARDWARE_NAME = /^(en|wl|ww)(o\d+|s\d+|p\d+s\d+|x[0-9a-f]{12})/;

export const fstabStableNamesOperation: FixOperation<Record<string, never>> = {
  type: 'fstab_stable_names',
  description: 'Rewrites /etc/fstab entries that name disks by bus (/dev/sdX) to UUID=',
  needs: 'mounted',
  validateOptions: () => ({}),
  async run({ g, os, log }): Promise<FixOutcome> {
    const text = (await g.readFile('/etc/fstab')).toString('utf8');
    const rewritten: string[] = [];
    const out: string[] = [];
    for (const line of text.split('\n')) {
      const fields = line.trim().split(/\s+/);
      const [spec, mountpoint] = fields;
      // The inspection mounted `mountpoint` from the device the guest means: its UUID is the answer.
      const device =
        spec && BUS_NAME.test(spec) && !line.trim().startsWith('#') ? os.mountpoints[mountpoint] : undefined;
      const uuid = device ? await g.vfsUuid(device).catch(() => '') : '';
      if (uuid) {
        out.push(line.replace(spec, `UUID=${uuid}`));
        rewritten.push(`${spec} ${mountpoint} → UUID=${uuid}`);
        log(`${spec} (${mountpoint}) → UUID=${uuid}`);
      } else out.push(line);
    }
    if (rewritten.length === 0)
      return {
        status: 'skipped',
        message: 'No fstab entry names a mounted filesystem by bus',
        changed: false,
      };
    await g.write('/etc/fstab', out.join('\n'));
    return {
      status: 'success',
      message: `fstab: ${rewritten.join('; ')}`,
      changed: true,
      details: { rewritten },
    };
  },
};

export const networkPortableOperation: FixOperation<Record<string, never>> = {
  type: 'network_portable',
  description: 'Removes MAC bindings from network configuration and renames slot-named interfaces to eth<N>',
  needs: 'mounted',
  validateOptions: () => ({}),
  async run({ g, os, log }): Promise<FixOutcome> {
    const changes: string[] = [];
    const isDir = (d: string) => g.isDir(d).catch(() => false);
    let renamed = 0;
    const ifcfgDir = '/etc/sysconfig/network-scripts';
    if (await isDir(ifcfgDir)) {
      const names = (await g.ls(ifcfgDir)).filter((n) => n.startsWith('ifcfg-') && n !== 'ifcfg-lo').sort();
      let next = names.filter((n) => /^ifcfg-eth\d+$/.test(n)).length;
      for (const name of names) {
        const path = `${ifcfgDir}/${name}`;
        let text = (await g.readFile(path)).toString('utf8');
        const before = text;
        text = text.replace(/^\s*(HWADDR|MACADDR)=.*\n?/gm, '');
        const dev = name.slice(6);
        let target = path;
        if (HARDWARE_NAME.test(dev)) {
          const eth = `eth${next++}`;
          text = text.replace(/^(DEVICE|NAME)=.*$/gm, (_, k: string) => `${k}=${eth}`);
          target = `${ifcfgDir}/ifcfg-${eth}`;
          renamed++;
        }
        if (text !== before) {
          await g.write(target, text);
          if (target !== path) await g.rm(path);
          changes.push(target === path ? `${path}: MAC binding removed` : `${path} → ${target}`);
        }
      }
    }
    if (await isDir('/etc/udev/rules.d')) {
      for (const name of (await g.ls('/etc/udev/rules.d')).filter((n) => /persistent-net\.rules$/.test(n))) {
        await g.rm(`/etc/udev/rules.d/${name}`);
        changes.push(`/etc/udev/rules.d/${name} removed`);
      }
    }
    if (await isDir('/etc/netplan')) {
      for (const name of (await g.ls('/etc/netplan')).filter((n) => /\.ya?ml$/.test(n))) {
        const path = `/etc/netplan/${name}`;
        const text = (await g.readFile(path)).toString('utf8');
        // A MAC match becomes a driver-independent name match; set-name would rename to the old name.
        const next = text
          .replace(/^(\s*)macaddress:\s*\S+\s*$/gm, '$1name: "e*"')
          .replace(/^\s*set-name:.*\n?/gm, '');
        if (next !== text) {
          await g.write(path, next);
          changes.push(`${path}: MAC match replaced by name: "e*"`);
        }
      }
    }
    const nmDir = '/etc/NetworkManager/system-connections';
    if (await isDir(nmDir)) {
      for (const name of await g.ls(nmDir)) {
        const path = `${nmDir}/${name}`;
        const text = (await g.readFile(path)).toString('utf8');
        const next = text.replace(/^\s*mac-address\s*=.*\n?/gm, '');
        if (next !== text) {
          await g.write(path, next);
          changes.push(`${path}: mac-address removed`);
        }
      }
    }
    if (renamed > 0) {
      await editBootCommandLines(g, os, { root: null, add: ['net.ifnames=0'] }, log);
      changes.push('net.ifnames=0 added to the kernel command line');
    }
    for (const c of changes) log(c);
    if (changes.length === 0)
      return { status: 'skipped', message: 'No MAC binding or slot-named interface found', changed: false };
    return { status: 'success', message: changes.join('; '), changed: true, details: { changes } };
  },
};

function unitsOption(o: Obj, field: string): { units: string[] } {
  const units = o.units;
  if (
    !Array.isArray(units) ||
    units.length === 0 ||
    !units.every((u) => typeof u === 'string' && UNIT.test(u))
  ) {
    throw invalid(`${field}.units`, 'must be a non-empty list of systemd unit names (vmtoolsd.service…)');
  }
  return { units: units as string[] };
}

export const serviceDisableOperation: FixOperation<{ units: string[] }> = {
  type: 'service_disable',
  description: 'Disables systemd units (removes their enablement links under /etc/systemd/system)',
  needs: 'mounted',
  validateOptions: unitsOption,
  async run({ g, options, log }) {
    const removed: string[] = [];
    const base = '/etc/systemd/system';
    for (const dir of (await g.ls(base)).filter((d) => /\.(wants|requires)$/.test(d))) {
      for (const unit of options.units) {
        const link = `${base}/${dir}/${unit}`;
        if (await g.isSymlink(link).catch(() => false)) {
          await g.rm(link);
          removed.push(link);
          log(`${link} removed`);
        }
      }
    }
    if (removed.length === 0)
      return { status: 'skipped', message: `${options.units.join(', ')} not enabled`, changed: false };
    return {
      status: 'success',
      message: `Disabled ${options.units.join(', ')}`,
      changed: true,
      details: { removed },
    };
  },
};

export const serviceEnableOperation: FixOperation<{ units: string[] }> = {
  type: 'service_enable',
  description: 'Enables systemd units for multi-user.target',
  needs: 'mounted',
  validateOptions: unitsOption,
  async run({ g, options, log }) {
    const created: string[] = [];
    for (const unit of options.units) {
      let target: string | null = null;
      for (const dir of ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system']) {
        if (await g.isFile(`${dir}/${unit}`).catch(() => false)) {
          target = `${dir}/${unit}`;
          break;
        }
      }
      if (!target)
        return {
          status: 'failed',
          message: `No unit file ${unit} in the guest: install its package first`,
          changed: created.length > 0,
        };
      const link = `/etc/systemd/system/multi-user.target.wants/${unit}`;
      await g.mkdirP('/etc/systemd/system/multi-user.target.wants');
      await g.lnSf(target, link);
      created.push(link);
      log(`${link} → ${target}`);
    }
    return {
      status: 'success',
      message: `Enabled ${options.units.join(', ')}`,
      changed: true,
      details: { created },
    };
  },
};

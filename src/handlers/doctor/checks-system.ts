// Checks of what happens once the guest runs on the new hardware: network configuration bound to
// the old NICs, cloud-init, guest tools of the old platform and the agent of the new one, and
// SELinux labels after offline changes.
import { cmdlineArg } from './boot-config.js';
import { fail, pass } from './outcome.js';
import type { CheckDefinition } from './types.js';

/** Interface names tied to the old hardware: predictable names carry its PCI slot / firmware index. */
const HARDWARE_NAME = /^(en|wl|ww)(o\d+|s\d+|p\d+s\d+|x[0-9a-f]{12})/;

export const nicBindingCheck: CheckDefinition = {
  id: 'BOOT-007',
  name: 'Network configuration bound to the old NICs',
  category: 'network',
  weight: 8,
  run({ facts }) {
    const { bindings, interfaces } = facts.network;
    const ifnames0 = cmdlineArg(facts.bootloader.default?.cmdline ?? '', 'net.ifnames') === '0';
    const named = interfaces.filter(
      (i) => HARDWARE_NAME.test(i.name) || (/^eth\d+$/.test(i.name) && !ifnames0 && bindings.length > 0),
    );
    const evidence = {
      read: [...new Set([...bindings.map((b) => b.file), ...interfaces.map((i) => i.file)])],
      bindings,
      interfaces,
      kernel_net_ifnames: ifnames0 ? '0' : null,
    };
    if (bindings.length === 0 && named.length === 0) {
      return pass(
        `${interfaces.length} interface config(s), none bound to a MAC address or a slot name`,
        evidence,
      );
    }
    const parts = [
      ...bindings.map((b) => `${b.file}: ${b.detail}`),
      ...named
        .filter((i) => HARDWARE_NAME.test(i.name))
        .map((i) => `${i.file}: interface ${i.name} (a slot name of the old hardware)`),
    ];
    return fail(
      'warning',
      `The new NIC has another MAC and PCI slot, so this configuration will not apply: ${parts.join('; ')}`,
      evidence,
      'Remove HWADDR/MACADDR and MAC matches, delete 70-persistent-net.rules, and name interfaces eth0… with net.ifnames=0 (or match by driver).',
      [{ type: 'network_portable' }],
    );
  },
};

export const cloudInitCheck: CheckDefinition = {
  id: 'BOOT-008',
  name: 'cloud-init for the target',
  category: 'network',
  weight: 6,
  run({ facts, target }) {
    const ci = facts.report.cloud_init;
    const evidence = {
      read: ['package database', '/etc/cloud/cloud.cfg', '/etc/cloud/cloud.cfg.d'],
      cloud_init: ci,
    };
    const wanted = target.cloudDatasources;
    const agents = facts.report.vm_tools.installed;
    if (!wanted) {
      if (
        ci.installed &&
        ci.datasources.length &&
        !ci.disabled &&
        !ci.datasources.some((d) => ['NoCloud', 'ConfigDrive', 'None'].includes(d))
      ) {
        return fail(
          'warning',
          `cloud-init only knows ${ci.datasources.join(', ')}: on ${target.name} it waits for a datasource that never answers`,
          evidence,
          'Add NoCloud/ConfigDrive to datasource_list (or remove the list), or disable cloud-init (touch /etc/cloud/cloud-init.disabled).',
        );
      }
      return pass(
        ci.installed
          ? `cloud-init datasources: ${ci.datasources.join(', ') || 'default list'}`
          : `cloud-init not installed (optional on ${target.name})`,
        evidence,
      );
    }
    const agent = target.agents.find((a) => a !== 'cloud-init' && agents.includes(a));
    if (!ci.installed || ci.disabled) {
      if (agent) return pass(`${agent} configures the guest on ${target.name}`, evidence);
      return fail(
        'warning',
        `cloud-init ${ci.installed ? 'is disabled' : 'is not installed'}: ${target.name} cannot inject SSH keys, host name or network`,
        evidence,
        `Install cloud-init (datasource ${wanted.join('/')}) before the import.`,
      );
    }
    if (ci.datasources.length && !ci.datasources.some((d) => wanted.includes(d))) {
      return fail(
        'warning',
        `cloud-init datasource_list [${ci.datasources.join(', ')}] lacks ${wanted.join('/')}`,
        evidence,
        `Add ${wanted.join(', ')} to datasource_list in /etc/cloud/cloud.cfg.d/.`,
      );
    }
    return pass(
      `cloud-init with ${ci.datasources.length ? ci.datasources.join(', ') : 'the default datasource list'} works on ${target.name}`,
      evidence,
    );
  },
};

export const selinuxCheck: CheckDefinition = {
  id: 'BOOT-009',
  name: 'SELinux relabel after offline changes',
  category: 'security',
  weight: 6,
  run({ facts, previous: others }) {
    const se = facts.report.security?.selinux;
    const evidence = {
      read: ['/etc/selinux/config', '/.autorelabel'],
      selinux: se ?? null,
      autorelabel: facts.autorelabel,
    };
    if (!se || se.status === 'disabled' || se.status === 'absent')
      return pass('SELinux is disabled: no labels to keep', evidence);
    if (facts.autorelabel)
      return pass(`SELinux ${se.status}; /.autorelabel relabels the guest at first boot`, evidence);
    const changes = (others ?? []).filter((c) => !c.passed && c.fix.length > 0);
    if (changes.length === 0)
      return pass(`SELinux ${se.status}; no offline change is planned, labels stay valid`, evidence);
    return fail(
      se.status === 'enforcing' ? 'warning' : 'info',
      `SELinux ${se.status}: files written offline (${changes.map((c) => c.id).join(', ')}) get no labels and are denied at boot`,
      evidence,
      'Relabel after the changes: touch /.autorelabel (relabels at first boot) or run setfiles offline.',
      [{ type: 'selinux_autorelabel' }],
    );
  },
};

export const foreignToolsCheck: CheckDefinition = {
  id: 'BOOT-010',
  name: 'Guest tools of the old platform',
  category: 'driver',
  weight: 6,
  run({ facts, target }) {
    const installed = facts.report.vm_tools.installed.filter((t) => target.foreignTools.includes(t));
    const enabled = (facts.report.services?.enabled ?? []).filter((u) =>
      /^(vmtoolsd|vmware-tools|vgauthd|hv[-_]?(kvp|vss|fcopy)|hypervkvpd|hypervvssd|hypervfcopyd|waagent|walinuxagent|xe-linux-distribution|vboxadd|vboxservice)/i.test(
        u,
      ),
    );
    const evidence = {
      read: ['package database', '/etc/systemd/system/*.wants'],
      installed,
      enabled_services: enabled,
    };
    if (enabled.length) {
      return fail(
        'warning',
        `${installed.join(', ') || 'foreign guest tools'} start at boot (${enabled.join(', ')}) and fail on ${target.name}`,
        evidence,
        `Disable them now (systemctl disable ${enabled.join(' ')}) and remove the packages after the move (dnf remove / apt purge ${installed.join(' ')}).`,
        [{ type: 'service_disable', options: { units: enabled } }],
      );
    }
    if (installed.length)
      return pass(
        `${installed.join(', ')} installed but not started; remove the packages after the move`,
        evidence,
      );
    return pass('No guest tools of another platform', evidence);
  },
};

export const guestAgentCheck: CheckDefinition = {
  id: 'BOOT-016',
  name: "The target's guest agent",
  category: 'driver',
  weight: 3,
  run({ facts, target }) {
    const installed = target.agents.filter(
      (a) =>
        facts.report.vm_tools.installed.includes(a) ||
        (a === 'cloud-init' && facts.report.cloud_init.installed),
    );
    const units: Record<string, string> = {
      'qemu-guest-agent': 'qemu-guest-agent.service',
      'hyperv-daemons': 'hypervkvpd.service',
      WALinuxAgent: 'waagent.service',
      'google-guest-agent': 'google-guest-agent.service',
      'cloud-init': 'cloud-init.service',
      'amazon-ssm-agent': 'amazon-ssm-agent.service',
    };
    const enabled = new Set(facts.report.services?.enabled ?? []);
    const evidence = {
      read: ['package database', '/etc/systemd/system/*.wants'],
      wanted: target.agents,
      installed,
      enabled: installed.filter((a) => enabled.has(units[a] ?? '')),
    };
    if (installed.some((a) => enabled.has(units[a] ?? '')))
      return pass(`${installed.join(', ')} installed and enabled`, evidence);
    if (installed.length) {
      const unit = units[installed[0]];
      return fail(
        'info',
        `${installed[0]} is installed but not enabled`,
        evidence,
        `systemctl enable ${unit}`,
        unit ? [{ type: 'service_enable', options: { units: [unit] } }] : [],
      );
    }
    return fail(
      'info',
      `None of ${target.agents.join(', ')} is installed: ${target.name} cannot freeze filesystems for snapshots or report addresses`,
      evidence,
      `Install ${target.agents[0]} (dnf/apt install ${target.agents[0]}) and enable it.`,
    );
  },
};

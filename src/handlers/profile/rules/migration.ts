// migration profile: what breaks or lingers when the VM moves to a KVM/virtio hypervisor.
import type { Finding, Profile, RuleInput } from '../types.js';
import { finding } from './common.js';

const f = finding.bind(null, 'migration');

/** Block drivers a KVM guest boots from: one of them must be present. */
export const VIRTIO_STORAGE = ['virtio_blk', 'virtio_scsi'];
/** Device names that change with the disk bus (sda on SATA/SCSI, vda on virtio, xvda on Xen, nvme0n1). */
const BUS_DEVICE = /^\/dev\/([shv]d[a-z]+\d*|xvd[a-z]+\d*|nvme\d+n\d+(p\d+)?)$/;
/** Guest tools of other hypervisors (to remove after moving to KVM). */
const FOREIGN_TOOLS = /vmware|open-vm-tools|vm-tools|hyperv|hyper-v|hv-kvp|linux-cloud-tools|walinuxagent/i;

function virtioChecks({ report, facts }: RuleInput): Finding[] {
  if (report.operating_system.type !== 'linux') return [];
  const out: Finding[] = [];
  const kernels = Object.entries(facts.virtio.kernels);
  const has = (drivers: readonly string[]) => VIRTIO_STORAGE.some((d) => drivers.includes(d));
  const noStorage = kernels.filter(([, k]) => !has(k.modules) && !has(k.builtin));
  if (noStorage.length > 0) {
    out.push(
      f({
        id: 'MIG-VIRTIO-001',
        severity: 'medium',
        title: 'virtio drivers missing from the kernel',
        description:
          `Kernel ${noStorage.map(([v]) => v).join(', ')} has neither virtio_blk nor virtio_scsi ` +
          '(module or built in): the guest cannot boot from a virtio disk.',
        evidence: {
          kernels: noStorage.map(([v]) => v),
          drivers_found: noStorage.map(
            ([v, k]) => `${v}: ${[...k.modules, ...k.builtin].join(' ') || 'none'}`,
          ),
        },
        remediation: "Install a kernel with virtio drivers (the distribution's generic kernel has them).",
      }),
    );
  }
  // A driver built into the kernel needs no module in the initramfs, so only an initramfs whose
  // kernel ships the storage drivers as modules (or whose kernel is unknown) must carry them.
  const initramfsMissing = Object.entries(facts.virtio.initramfs).filter(([file, drivers]) => {
    const kernel = kernels.find(([v]) => file.includes(v))?.[1];
    return !has(drivers) && !(kernel && has(kernel.builtin));
  });
  if (initramfsMissing.length > 0) {
    out.push(
      f({
        id: 'MIG-VIRTIO-002',
        severity: 'medium',
        title: 'virtio drivers missing from the initramfs',
        description: 'The initramfs cannot mount the root filesystem from a virtio disk.',
        evidence: { initramfs: initramfsMissing.map(([file]) => file) },
        remediation:
          'Add virtio_blk virtio_scsi virtio_pci to the initramfs and rebuild it (dracut -f --add-drivers, or ' +
          '/etc/initramfs-tools/modules + update-initramfs -u).',
      }),
    );
  }
  return out;
}

function fstabCheck({ report }: RuleInput): Finding[] {
  const byName = (report.storage?.fstab ?? []).filter((e) => BUS_DEVICE.test(e.spec));
  if (byName.length === 0) return [];
  return [
    f({
      id: 'MIG-FSTAB-001',
      severity: 'medium',
      title: 'fstab refers to disks by device name',
      description:
        'Device names change with the disk bus (sda on SCSI, vda on virtio): the guest may not find its ' +
        'filesystems after migration.',
      evidence: { file: '/etc/fstab', entries: byName.map((e) => `${e.spec} ${e.mountpoint}`) },
      remediation: "Use UUID= or LABEL= in /etc/fstab (blkid shows them) and in the boot loader's root=.",
    }),
  ];
}

function cloudInitCheck({ report }: RuleInput): Finding[] {
  if (report.operating_system.type !== 'linux' || report.cloud_init.installed) return [];
  return [
    f({
      id: 'MIG-CLOUDINIT-001',
      severity: 'low',
      title: 'cloud-init not installed',
      description: 'The guest cannot pick up hostname, SSH keys and network from a cloud platform.',
      evidence: { cloud_init: false },
      remediation: "Install cloud-init (or the platform's guest agent) before importing into a cloud.",
    }),
  ];
}

function foreignToolsCheck({ report }: RuleInput): Finding[] {
  const tools = report.vm_tools.installed.filter((t) => FOREIGN_TOOLS.test(t));
  if (tools.length === 0) return [];
  return [
    f({
      id: 'MIG-TOOLS-001',
      severity: 'low',
      title: 'VMware / Hyper-V guest tools installed',
      description: `${tools.join(', ')} will fail or spam logs on KVM and should be removed after migration.`,
      evidence: { tools },
      remediation: `Remove them after the move (e.g. dnf remove / apt purge ${tools.join(' ')}); install qemu-guest-agent.`,
    }),
  ];
}

export const migrationProfile: Profile = {
  name: 'migration',
  check: (input) => [
    ...virtioChecks(input),
    ...fstabCheck(input),
    ...cloudInitCheck(input),
    ...foreignToolsCheck(input),
  ],
};

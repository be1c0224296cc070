// What each migration target needs from a Linux guest: the drivers its virtual disk and NIC
// use, how it boots, whether its console is serial, which cloud-init datasource it speaks and
// which guest agent belongs there. The checks read these instead of naming targets.

import { MIGRATION_TARGETS } from '../../protocol/payloads/operations.js';

export const TARGETS = MIGRATION_TARGETS;
export type Target = (typeof TARGETS)[number];

export interface TargetProfile {
  name: Target;
  /** Disk drivers: the guest must have at least one (module in the initramfs, or built in). */
  storageDrivers: string[];
  /** Bus/transport drivers every disk driver needs (all of them). */
  busDrivers: string[];
  /** NIC drivers: one of them. */
  netDrivers: string[];
  /** Firmware the target can boot a guest with. */
  firmware: { bios: boolean; efi: boolean; note?: string };
  /** The target's console is a serial port (cloud serial consoles, `virtctl console`). */
  serialConsole: boolean;
  /** cloud-init datasource names that work there; null: cloud-init is optional. */
  cloudDatasources: string[] | null;
  /** Agents whose absence is worth a warning (any one of them). */
  agents: string[];
  /** Guest tools of other platforms that have no business there. */
  foreignTools: string[];
  /** The target names disks differently from the source (virtio vdX, NVMe): /dev/sdX breaks. */
  renamesDisks: boolean;
}

const VIRTIO = {
  storageDrivers: ['virtio_blk', 'virtio_scsi'],
  busDrivers: ['virtio_pci'],
  netDrivers: ['virtio_net'],
  agents: ['qemu-guest-agent'],
  foreignTools: [
    'open-vm-tools',
    'open-vm-tools-desktop',
    'vmware-tools',
    'hyperv-daemons',
    'hyperv-tools',
    'WALinuxAgent',
    'xe-guest-utilities',
    'xe-guest-utilities-latest',
    'virtualbox-guest-utils',
    'virtualbox-guest-additions',
  ],
  renamesDisks: true,
};
const HYPERV = {
  storageDrivers: ['hv_storvsc'],
  busDrivers: ['hv_vmbus'],
  netDrivers: ['hv_netvsc'],
  foreignTools: [
    'open-vm-tools',
    'open-vm-tools-desktop',
    'vmware-tools',
    'xe-guest-utilities',
    'virtualbox-guest-utils',
    'virtualbox-guest-additions',
  ],
  renamesDisks: false,
};

export const TARGET_PROFILES: Readonly<Record<Target, TargetProfile>> = {
  kvm: {
    name: 'kvm',
    ...VIRTIO,
    firmware: { bios: true, efi: true },
    serialConsole: false,
    cloudDatasources: null,
  },
  qemu: {
    name: 'qemu',
    ...VIRTIO,
    firmware: { bios: true, efi: true },
    serialConsole: false,
    cloudDatasources: null,
  },
  proxmox: {
    name: 'proxmox',
    ...VIRTIO,
    firmware: { bios: true, efi: true, note: 'EFI needs the VM set to OVMF with an EFI disk' },
    serialConsole: false,
    cloudDatasources: null,
  },
  kubevirt: {
    name: 'kubevirt',
    ...VIRTIO,
    firmware: {
      bios: true,
      efi: true,
      note: 'EFI needs spec.domain.firmware.bootloader.efi (secureBoot: false unless the shim is signed)',
    },
    serialConsole: true,
    cloudDatasources: null,
  },
  hyperv: {
    name: 'hyperv',
    ...HYPERV,
    firmware: { bios: true, efi: true, note: 'BIOS guests need a generation 1 VM, EFI guests generation 2' },
    serialConsole: false,
    cloudDatasources: null,
    agents: ['hyperv-daemons', 'hyperv-tools'],
  },
  azure: {
    name: 'azure',
    ...HYPERV,
    firmware: {
      bios: true,
      efi: true,
      note: 'BIOS guests import as generation 1 images, EFI guests as generation 2',
    },
    serialConsole: true,
    cloudDatasources: ['Azure'],
    agents: ['WALinuxAgent', 'cloud-init'],
  },
  aws: {
    name: 'aws',
    storageDrivers: ['nvme', 'xen_blkfront'],
    busDrivers: [],
    netDrivers: ['ena', 'xen_netfront'],
    firmware: {
      bios: true,
      efi: true,
      note: 'EFI AMIs need --boot-mode uefi and an instance type that supports it',
    },
    serialConsole: true,
    cloudDatasources: ['Ec2'],
    agents: ['cloud-init', 'amazon-ssm-agent'],
    foreignTools: VIRTIO.foreignTools,
    renamesDisks: true,
  },
  gcp: {
    name: 'gcp',
    storageDrivers: ['virtio_scsi', 'nvme'],
    busDrivers: ['virtio_pci'],
    netDrivers: ['virtio_net', 'gve'],
    firmware: { bios: true, efi: true, note: 'EFI images need the UEFI_COMPATIBLE guest OS feature' },
    serialConsole: true,
    cloudDatasources: ['GCE'],
    agents: ['google-guest-agent', 'cloud-init'],
    foreignTools: VIRTIO.foreignTools,
    renamesDisks: true,
  },
};

// Appliance device names, shared by the pool and the fast inspection.

/** `/dev/sdb3` → `/dev/sdb`; `btrfsvol:/dev/sda2/@` → `/dev/sda`; other names unchanged. */
export function diskOfDevice(device: string): string {
  const dev = device.startsWith('btrfsvol:') ? device.slice('btrfsvol:'.length) : device;
  const m = /^\/dev\/([shvx]d[a-z]+|nvme\d+n\d+)(p?\d+)?(\/.*)?$/.exec(dev);
  if (!m) return dev;
  return `/dev/${m[1]}`;
}

// How this process names one of its open files to another program (qemu, qemu-img): by the
// descriptor's /proc path, which reaches exactly the file that was checked, whatever happens to
// its name afterwards. One definition, so whoever recognises such a path (the appliance pool's
// holds) agrees with whoever makes it (image pins, job outputs).

/** The path another process opens to get the file behind this process's descriptor `fd`. */
export function descriptorPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

const DESCRIPTOR = new RegExp(`^/proc/(?:self|${process.pid})/fd/\\d+$`);

/** Whether `path` names one of this process's descriptors. */
export function isDescriptorPath(path: string): boolean {
  return DESCRIPTOR.test(path);
}

// The `appliance` health check: how the appliances will run (KVM or TCG emulation, ~5x slower)
// and whether libguestfs' appliance cache is built (the first launch builds it, ~30 s more).
// Operators read this on /health before wondering why the first job is slow.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GuestfsOptions } from '../../lib/guestfs.js';
import type { HealthCheck } from './types.js';

/** How qemu will run the appliances under these handle options on this host. */
export async function accelerator(options: GuestfsOptions): Promise<'kvm' | 'tcg'> {
  if (options.backendSettings?.includes('force_tcg') ?? true) return 'tcg';
  return access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => 'kvm' as const,
    () => 'tcg' as const,
  );
}

/** libguestfs' appliance cache folder: LIBGUESTFS_CACHEDIR, else TMPDIR, else /var/tmp. */
export function applianceCacheDir(options: GuestfsOptions, env: NodeJS.ProcessEnv = process.env): string {
  const base = options.cachedir ?? env.LIBGUESTFS_CACHEDIR ?? env.TMPDIR ?? '/var/tmp';
  return join(base, `.guestfs-${process.getuid?.() ?? 0}`, 'appliance.d');
}

export async function applianceCheck(options: GuestfsOptions): Promise<HealthCheck> {
  const mode = await accelerator(options);
  const dir = applianceCacheDir(options);
  const built = await stat(join(dir, 'root')).then(
    (s) => s.mtime.toISOString(),
    () => null,
  );
  const why =
    mode === 'tcg'
      ? options.backendSettings?.includes('force_tcg') !== false
        ? 'TCG emulation (set GUESTKIT_KVM=1 where /dev/kvm is usable)'
        : 'TCG emulation (/dev/kvm is not usable by this user)'
      : 'KVM';
  return {
    status: 'ok',
    message: `${why}; appliance cache ${dir} ${built ? `built ${built}` : 'not built yet (the first launch builds it)'}`,
    details: { accelerator: mode, cache_dir: dir, cache_built: built },
  };
}

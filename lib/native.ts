// Finds and loads the two native addons, whether this module runs from lib/ (sources under
// vitest) or dist/lib/ (compiled), from a checkout or from an installed package:
// - guestkit_hash (native/sha256): SHA-256; links nothing but the C/C++ runtime.
// - guestkit_guestfs (native/guestfs): the libguestfs binding; links libguestfs.so.0, so it is
//   loaded on first use only and a machine without libguestfs can still hash, run echo jobs and
//   serve the API.
// Each addon is resolved the node-gyp-build way: a source build (native/<concern>/build/Release)
// first, else the prebuilt binary shipped in the package (native/<concern>/prebuilds/linux-x64).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'guestkit-worker';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME
    ) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${PACKAGE_NAME}: cannot find the package root (its package.json)`);
    dir = parent;
  }
}

/** Absolute path of the package root (the folder holding the package's package.json). */
export const PACKAGE_ROOT = packageRoot();

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };

/** The native addons: their source folder under native/ (where their build and prebuilds live). */
export const ADDONS = {
  hash: { name: 'guestkit_hash', dir: join(PACKAGE_ROOT, 'native', 'sha256') },
  guestfs: { name: 'guestkit_guestfs', dir: join(PACKAGE_ROOT, 'native', 'guestfs') },
} as const;

/** What to install for the libguestfs binding, named in every error about its absence. */
export const LIBGUESTFS_INSTALL_HINT =
  'install libguestfs: on Debian/Ubuntu `apt install libguestfs0 linux-image-amd64` ' +
  '(libguestfs0 brings qemu and supermin; the appliance boots a host kernel), ' +
  'on Fedora/RHEL `dnf install libguestfs`';

/** Path of an addon's binary for this platform (source build first, then the prebuild). */
export function addonPath(addon: keyof typeof ADDONS): string {
  return nodeGypBuild.path(ADDONS[addon].dir);
}

function load(addon: keyof typeof ADDONS): Record<string, unknown> {
  let file: string;
  try {
    file = addonPath(addon);
  } catch (err) {
    throw new Error(
      `${PACKAGE_NAME}: no ${ADDONS[addon].name} binary for this platform and no source build ` +
        `(${(err as Error).message.trim().split('\n')[0]}); build it with \`npm rebuild ${PACKAGE_NAME}\` ` +
        '(needs g++, make and python3, plus libguestfs-dev for the libguestfs binding)',
      { cause: err },
    );
  }
  return require(file) as Record<string, unknown>;
}

let hash: Record<string, unknown> | undefined;

/** The hashing addon's exports (typed by lib/checksum.ts); loads it on first call. */
export function hashAddon(): Record<string, unknown> {
  return (hash ??= load('hash'));
}

let guestfs: { exports: Record<string, unknown> } | { error: Error } | undefined;

/**
 * The libguestfs addon's exports (typed by lib/guestfs.ts); loads it on first call. Throws, every
 * time, the same Error when it cannot load: its message says what to install.
 */
export function guestfsAddon(): Record<string, unknown> {
  guestfs ??= loadGuestfs();
  if ('error' in guestfs) throw guestfs.error;
  return guestfs.exports;
}

function loadGuestfs(): { exports: Record<string, unknown> } | { error: Error } {
  try {
    return { exports: load('guestfs') };
  } catch (err) {
    const message = (err as Error).message;
    // The dynamic loader names the first library it could not load (libguestfs.so.0, or one of
    // its own dependencies when the package is half installed).
    // Absent ("cannot open shared object file") and damaged ("file too short", "invalid ELF
    // header", a truncated package) both mean: install libguestfs.
    const missing = /(lib[\w.+-]+\.so[\d.]*): ([^:\n]+)/.exec(message);
    if (!missing) return { error: err as Error };
    return {
      error: new Error(
        `libguestfs is not available (${missing[1]}: ${missing[2].trim()}): ${LIBGUESTFS_INSTALL_HINT}`,
        {
          cause: err,
        },
      ),
    };
  }
}

/** Whether the libguestfs binding loads on this machine, and if not, what to install. */
export function libguestfsAvailability(): { available: true } | { available: false; reason: string } {
  try {
    guestfsAddon();
    return { available: true };
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
}

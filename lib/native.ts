// Loads the compiled addon (build/Release/guestkit.node) from the package root, whether this
// module runs from lib/ (sources under vitest) or dist/lib/ (compiled).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'binding.gyp'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('guestkit-worker: cannot find the package root (binding.gyp)');
    dir = parent;
  }
  return dir;
}

/** Absolute path of the package root (the folder holding package.json and binding.gyp). */
export const PACKAGE_ROOT = packageRoot();

const require = createRequire(import.meta.url);

/**
 * The raw addon exports. Typed per concern by the modules that use it (checksum.ts, guestfs.ts);
 * nothing outside lib/ should touch it.
 */
export const addon: Record<string, unknown> = require(
  join(PACKAGE_ROOT, 'build', 'Release', 'guestkit.node'),
);

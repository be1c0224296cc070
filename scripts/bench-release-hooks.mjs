// Module hooks for `npm run bench`: a benchmark's imports of the product (../src/…, ../lib/…)
// load the compiled package in dist/, what users run, instead of the TypeScript sources through
// tsx (whose per-function wrappers showed in the job path's profiles). Benchmark files themselves
// still run through tsx. Registered by scripts/bench-release.mjs; bench.mjs builds dist/ first.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), '..');
const BENCHMARKS = join(ROOT, 'benchmarks') + sep;
const SOURCES = ['src', 'lib'].map((d) => pathToFileURL(join(ROOT, d) + sep).href);

export async function resolve(specifier, context, next) {
  const parent = context.parentURL?.startsWith('file:') ? fileURLToPath(context.parentURL) : '';
  if (parent.startsWith(BENCHMARKS) && specifier.startsWith('.')) {
    const target = resolvePath(dirname(parent), specifier);
    const rel = relative(ROOT, target);
    if (rel.startsWith(`src${sep}`) || rel.startsWith(`lib${sep}`)) {
      const built = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
      if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build:ts`);
      return { url: pathToFileURL(built).href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

/** A source module loaded anyway (an import the map above missed) would mix two copies: refuse. */
export async function load(url, context, next) {
  if (url.endsWith('.ts') && SOURCES.some((prefix) => url.startsWith(prefix))) {
    throw new Error(
      `${url}: a benchmark loaded the TypeScript sources; it must run dist/ (scripts/bench-release-hooks.mjs)`,
    );
  }
  return next(url, context);
}

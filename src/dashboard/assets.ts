// The built dashboard (dist/dashboard, written by `npm run build:dashboard`): a handful of small
// files read once, asynchronously, when the API starts, then served from memory.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** Vite puts a content hash in every name under assets/: those never change. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Where the built files are: next to the compiled plugin (dist/src/dashboard → dist/dashboard)
 * or, when the plugin runs from its TypeScript source (tests, tsx), under the repo's dist/.
 */
export function defaultAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'dashboard'), join(here, '..', '..', 'dist', 'dashboard')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0];
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** URL path (`/assets/index-abc.js`) → file; undefined when the dashboard was not built. */
export async function loadAssets(dir: string): Promise<Map<string, Asset> | undefined> {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  for (const file of await walk(dir)) {
    const url = '/' + relative(dir, file).split(sep).join('/');
    const [body, st] = await Promise.all([readFile(file), stat(file)]);
    assets.set(url, {
      body,
      type: TYPES[extname(file)] ?? 'application/octet-stream',
      etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      immutable: url.startsWith('/assets/'),
    });
  }
  return assets;
}

// `tsx scripts/sample/build.ts [dir]`: makes the Quick start's sample image, work/sample/sample-web01.img
// (gitignored), once; rebuilt when this recipe changes. Prints the image's path.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSampleImage } from './recipe.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SAMPLE_DIR = resolve(HERE, '..', '..', 'work', 'sample');
export const SAMPLE_IMAGE_NAME = 'sample-web01.img';

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? SAMPLE_DIR);
  const image = join(dir, SAMPLE_IMAGE_NAME);
  const stampFile = join(dir, 'recipe.sha256');
  // The recipe and the fixture builder parts it uses: a change to either rebuilds the image.
  const h = createHash('sha256');
  for (const f of [
    'recipe.ts',
    '../../test/fixtures/linux.ts',
    '../../test/fixtures/disk.ts',
    '../../test/fixtures/tree.ts',
    '../../test/fixtures/dpkg.ts',
  ])
    h.update(await readFile(join(HERE, f)));
  const stamp = h.digest('hex');
  const built = await readFile(stampFile, 'utf8').catch(() => '');
  if (built.trim() === stamp) {
    process.stdout.write(`${image}\n`);
    return;
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, '.build-'));
  try {
    const tmp = join(work, SAMPLE_IMAGE_NAME);
    await buildSampleImage(tmp, await mkdtemp(join(work, 'tree-')));
    await rename(tmp, image);
    await writeFile(stampFile, `${stamp}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`${image}\n`);
}

await main();

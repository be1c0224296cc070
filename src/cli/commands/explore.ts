// `guestkit-worker explore <image> [path]` (alias `ex`): the files of a disk image, read-only,
// locally (one appliance in this process, no daemon) or through a daemon (--api-url). Without a
// script option it opens the interactive files view; --ls DIR, --find GLOB and --cat FILE
// (repeatable, raw bytes streamed) answer from one session and exit, in that order.
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { splitGlob, type ExploreEntry } from '../../../lib/explore/index.js';
import { openLocal, openRemote, type ExploreSource } from '../explore/source.js';
import type { loadFilesView } from '../explore/tui.js';

export interface ExploreCommandOptions {
  format?: string;
  ls?: string;
  cat?: string[];
  find?: string;
  apiUrl?: string;
  apiToken?: string;
  output: 'table' | 'json';
}

/** One `ls -l` line. */
export function lsLine(e: ExploreEntry): string {
  const owner = `${e.user ?? e.uid} ${e.group ?? e.gid}`;
  const when = e.mtime.slice(0, 16).replace('T', ' ');
  const link = e.target === undefined ? '' : ` -> ${e.target}`;
  return `${e.permissions} ${owner.padEnd(16)} ${String(e.size).padStart(10)} ${when} ${e.name}${link}`;
}

export function registerExplore(program: Command): void {
  program
    .command('explore')
    .alias('ex')
    .description(
      'Browse the files of a disk image read-only: an interactive files view, or --ls/--cat/--find for scripts',
    )
    .argument('<image>', 'disk image (qcow2, raw, vmdk, vdi, vhdx)')
    .argument('[path]', 'directory to start the files view in', '/')
    .option('-f, --format <format>', 'image format (default: detected with qemu-img)')
    .option('--ls <dir>', 'list a directory (ls -l style) and exit')
    .option('--find <glob>', "print the paths matching an absolute glob, e.g. '/var/log/*.log'")
    .option(
      '--cat <file>',
      'write a file to standard output (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--api-url <url>', 'explore through this daemon instead of locally (GUESTKIT_WORKER_API_URL)')
    .option('--api-token <token>', 'bearer token for --api-url (GUESTKIT_API_TOKEN)')
    .addOption(
      new Option('-o, --output <format>', 'output of --ls / --find')
        .choices(['table', 'json'])
        .default('table'),
    )
    .action(async (image: string, path: string, options: ExploreCommandOptions) => {
      const script = options.ls !== undefined || options.cat !== undefined || options.find !== undefined;
      if (!script && !(process.stdin.isTTY && process.stdout.isTTY)) {
        process.stderr.write(
          `guestkit-worker explore: the files view needs a terminal; in scripts use --ls ${path}, --cat FILE or --find GLOB\n`,
        );
        process.exitCode = 2;
        return;
      }
      process.exitCode = await explore(image, path, options, script);
    });
}

function fail(err: unknown): number {
  const e = err as { code?: string; message?: string };
  process.stderr.write(
    `guestkit-worker explore: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`,
  );
  return 1;
}

/** Opens one session, runs the files view or the script options, closes it (the appliance is killed). */
async function explore(
  image: string,
  path: string,
  options: ExploreCommandOptions,
  script: boolean,
): Promise<number> {
  let source: ExploreSource;
  let filesView: Awaited<ReturnType<typeof loadFilesView>> | undefined;
  try {
    if (!script) {
      // A person is at this terminal (checked above): Ink must draw every frame even when the
      // environment says CI, where it would otherwise draw only the last one, at exit.
      delete process.env.CI;
      delete process.env.CONTINUOUS_INTEGRATION;
      filesView = await (await import('../explore/tui.js')).loadFilesView();
    }
    source =
      options.apiUrl !== undefined || process.env.GUESTKIT_WORKER_API_URL
        ? await openRemote(image, options.format, options)
        : await openLocal(image, options.format);
  } catch (err) {
    return fail(err);
  }
  try {
    if (filesView) {
      await filesView(source, path);
      return 0;
    }
    return await runScript(source, options);
  } catch (err) {
    return fail(err);
  } finally {
    await source.close();
  }
}

/** --ls, --find, then each --cat, from one session. */
export async function runScript(source: ExploreSource, options: ExploreCommandOptions): Promise<number> {
  if (options.ls !== undefined) {
    const entries: ExploreEntry[] = [];
    for (let offset = 0; ;) {
      const page = await source.ls(options.ls, { offset, limit: 5000 });
      entries.push(...page.entries);
      offset += page.entries.length;
      if (offset >= page.total || page.entries.length === 0) break;
    }
    process.stdout.write(
      options.output === 'json'
        ? `${JSON.stringify(entries, null, 2)}\n`
        : entries.map((e) => `${lsLine(e)}\n`).join(''),
    );
  }
  if (options.find !== undefined) {
    const { path, glob } = splitGlob(options.find);
    const r = await source.find(path, glob);
    process.stdout.write(
      options.output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : r.matches.map((m) => `${m}\n`).join(''),
    );
    if (r.truncated)
      process.stderr.write(`explore: more than ${r.matches.length} matches; the list is cut\n`);
  }
  for (const file of options.cat ?? []) {
    await pipeline(await source.download(file), process.stdout, { end: false });
  }
  return 0;
}

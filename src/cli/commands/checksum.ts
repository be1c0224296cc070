// `guestkit-worker checksum <file…>`: local SHA-256 through the native hasher, no daemon needed.
// Text output is sha256sum-compatible so `sha256sum -c` can check it.
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { stringify } from 'yaml';
import { createSha256, sha256File } from '../../../lib/checksum.js';

/** Files smaller than this finish too fast for a progress bar to be worth drawing. */
const BAR_MIN_BYTES = 64 * 1024 * 1024;
const MIB = 1024 * 1024;

/** Options of the checksum command as commander parses them. */
export interface ChecksumCommandOptions {
  json?: boolean;
  output: 'table' | 'json' | 'yaml';
}

/** One file's outcome, as printed by `--output json|yaml`. */
export interface ChecksumFileResult {
  file: string;
  sha256?: string;
  error?: { code: string; message: string };
}

/** Adds the `checksum` command to the program. */
export function registerChecksum(program: Command): void {
  program
    .command('checksum')
    .description('Print the SHA-256 of local files as "<hex>  <file>" (sha256sum format); no daemon needed')
    .argument('<file...>', 'files to hash; "-" reads standard input')
    .option('--json', 'print a JSON array of {file, sha256} or {file, error} (same as --output json)')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .action(async (files: string[], options: ChecksumCommandOptions) => {
      const results = await hashFiles(files, options.json ? 'json' : options.output);
      if (results.some((r) => r.error)) process.exitCode = 1;
    });
}

async function hashFiles(
  files: string[],
  format: ChecksumCommandOptions['output'],
): Promise<ChecksumFileResult[]> {
  const results: ChecksumFileResult[] = [];
  // One at a time, like sha256sum: concurrent reads of one disk only add seeks.
  for (const file of files) {
    const result = await hashOne(file);
    results.push(result);
    if (result.error) process.stderr.write(`guestkit-worker checksum: ${result.error.message}\n`);
    else if (format === 'table') process.stdout.write(`${sumLine(result.sha256 ?? '', file)}\n`);
  }
  if (format === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  if (format === 'yaml') process.stdout.write(stringify(results));
  return results;
}

async function hashOne(file: string): Promise<ChecksumFileResult> {
  let bar: cliProgress.SingleBar | undefined;
  try {
    if (file === '-') return { file, sha256: await hashStdin() };
    const sha256 = await sha256File(file, {
      onProgress: ({ bytes, total }) => {
        if (!bar && process.stderr.isTTY && total >= BAR_MIN_BYTES) {
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: '{file} [{bar}] {percentage}% {done}/{size} MiB',
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0, { file, done: 0, size: Math.round(total / MIB) });
        }
        bar?.update(bytes, { done: Math.round(bytes / MIB) });
      },
    });
    return { file, sha256 };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { file, error: { code: e.code ?? 'ERROR', message: e.message } };
  } finally {
    bar?.stop();
  }
}

// Standard input may be a socket (node's spawn) that open('/dev/stdin') refuses, so it is read as a
// stream; each chunk is ≤ 64 KiB, small enough to hash on the JS thread.
async function hashStdin(): Promise<string> {
  const hasher = createSha256();
  for await (const chunk of process.stdin) hasher.update(chunk as Buffer);
  return hasher.digest();
}

// sha256sum escapes names holding a backslash or newline and flags the line with a leading '\'.
function sumLine(hex: string, file: string): string {
  if (!/[\\\n\r]/.test(file)) return `${hex}  ${file}`;
  const escaped = file.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `\\${hex}  ${escaped}`;
}

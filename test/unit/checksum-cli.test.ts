// The `checksum` command run as a real child process (sources through tsx): sha256sum-compatible
// lines, exit codes, JSON output, and a progress bar only on a terminal.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const run = promisify(execFile);

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

let dir: string;
let files: string[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'guestkit-sha256-cli-'));
  files = ['empty', 'abc', 'odd name with spaces', 'back\\slash', 'new\nline'].map((name, i) => {
    const file = join(dir, name);
    writeFileSync(file, i === 0 ? '' : `${name}\n`.repeat(1000 * i));
    return file;
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('guestkit-worker checksum', () => {
  it('prints exactly what sha256sum prints, escapes included', async () => {
    const ours = await cli(['checksum', ...files]);
    const theirs = await run('sha256sum', files);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
  });

  it('produces lines that `sha256sum -c` accepts', async () => {
    const ours = await cli(['checksum', ...files]);
    const check = spawn('sha256sum', ['-c', '--strict']);
    check.stdin.end(ours.stdout);
    let out = '';
    check.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => check.on('close', r));
    expect(code).toBe(0);
    expect(out.match(/: OK$/gm)).toHaveLength(files.length);
  });

  it('exits 1 when a file fails, still hashing the others, message on stderr', async () => {
    const missing = join(dir, 'missing');
    const ours = await cli(['checksum', files[1], missing, dir, files[2]]);
    expect(ours.code).toBe(1);
    expect(ours.stdout.trim().split('\n')).toHaveLength(2);
    expect(ours.stderr).toContain(`ENOENT: no such file or directory, open '${missing}'`);
    expect(ours.stderr).toContain(`EISDIR: illegal operation on a directory, read '${dir}'`);
  });

  it('prints pure JSON with --json and reads standard input for "-"', async () => {
    const missing = join(dir, 'missing');
    const ours = await cli(['checksum', '--json', '-', missing], 'abc');
    expect(ours.code).toBe(1);
    expect(JSON.parse(ours.stdout)).toEqual([
      { file: '-', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
      { file: missing, error: { code: 'ENOENT', message: expect.stringContaining('ENOENT') } },
    ]);
  });

  it.skipIf(!existsSync('/usr/bin/script'))(
    'draws a progress bar on a terminal only, for large files',
    async () => {
      const large = join(dir, 'large');
      await run('sh', ['-c', `head -c ${96 * 1024 * 1024} /dev/zero > '${large}'`]);
      const expected = (await run('sha256sum', [large])).stdout;
      // util-linux `script` gives the child a pseudo-terminal on stdout and stderr.
      const command = `'${process.execPath}' --import tsx '${MAIN}' checksum '${large}'`;
      const tty = await run('script', ['-qec', command, '/dev/null'], { cwd: ROOT });
      expect(tty.stdout).toMatch(/\d+% \d+\/96 MiB/);
      expect(tty.stdout).toContain(expected.trim());
      const piped = await cli(['checksum', large]);
      expect(piped.stdout).toBe(expected);
      expect(piped.stderr).toBe('');
    },
  );
});

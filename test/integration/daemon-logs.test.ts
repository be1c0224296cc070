// The daemon's log lines as people and collectors meet them: pretty (time, level, message, the
// fields on one line; colour) when stdout is a terminal, JSON lines otherwise, and either on demand
// with --log-format / GUESTKIT_LOG_FORMAT. The compiled CLI runs `daemon --once` on an empty jobs
// folder; script(1) gives it a pseudo-terminal like a user's shell.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, cleanupDist, mainJs } from './api-helpers.js';

let dir: string;
const ONCE = '--once --api-enabled false --metrics-enabled false';

beforeAll(() => {
  buildDist();
  dir = mkdtempSync(join(tmpdir(), 'guestkit-logs-'));
}, 180_000);
afterAll(() => {
  cleanupDist();
  rmSync(dir, { recursive: true, force: true });
});

function sh(command: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'sh',
      ['-c', command],
      { cwd: dir, env: { ...process.env, GUESTKIT_LOG_FORMAT: '', NO_COLOR: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    ),
  );
}
const daemon = (flags = '') => `'${process.execPath}' '${mainJs()}' daemon ${ONCE} ${flags}`;
const onTerminal = (cmd: string, env: NodeJS.ProcessEnv = {}) =>
  sh(`script -qefc "${cmd.replace(/"/g, '\\"')}" /dev/null`, env);
const lines = (out: string) => out.split(/\r?\n/).filter((l) => l.trim() !== '');
// eslint-disable-next-line no-control-regex -- stripping the terminal's colour codes is the point
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

describe('daemon log lines', () => {
  it('are pretty and coloured on a terminal, without the pid and worker id on every line', async () => {
    const out = await onTerminal(daemon());
    const started = lines(out).find((l) => l.includes('worker started'));
    expect(started, out).toBeDefined();
    expect(started).toContain('\u001b['); // coloured
    expect(plain(started!)).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker started \{"recovered":0,"pending":0,/,
    );
    expect(out).not.toContain('"level"');
    expect(out).not.toContain('"pid"');
  });

  it('are JSON lines when piped, and on a terminal when asked for', async () => {
    for (const out of [
      await sh(daemon()),
      await onTerminal(daemon('--log-format json')),
      await onTerminal(daemon(), { GUESTKIT_LOG_FORMAT: 'json' }),
    ]) {
      const docs = lines(out).map((l) => JSON.parse(l) as { level: string; msg: string; worker_id: string });
      expect(docs.map((d) => d.msg)).toContain('worker started');
      expect(docs.every((d) => typeof d.level === 'string' && d.worker_id.startsWith('worker-'))).toBe(true);
    }
  });

  it('are pretty without colour when asked for in a pipe', async () => {
    const out = await sh(daemon('--log-format pretty'));
    expect(out).not.toContain('\u001b[');
    expect(lines(out).some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker started/.test(l))).toBe(true);
  });

  it('refuses an unknown format naming the choices', async () => {
    await expect(sh(`${daemon()}`, { GUESTKIT_LOG_FORMAT: 'xml' })).rejects.toThrow(/json, pretty, auto/);
  });
});

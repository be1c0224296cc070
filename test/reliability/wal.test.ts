// The WAL stays bounded under a steady write load. The checkpoint thread ran PASSIVE checkpoints
// only; with commits arriving all the time they never caught the last frames, the WAL was never
// restarted and grew without bound (1.3 GB after a minute of 250 jobs/s in the soak). Past its
// limit the thread now RESTARTs the log (the writer reuses the file from its start), and once the
// writes stop it TRUNCATEs the file.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WalCheckpointer } from '../../src/store/checkpointer.js';

const dir = mkdtempSync(join(tmpdir(), 'gk-rel-wal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Steady small transactions for `ms`: the largest WAL size seen and how often the file shrank. */
async function load(name: string, walLimitBytes: number, ms: number) {
  const path = join(dir, `${name}.db`);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT)');
  const checkpointer = new WalCheckpointer(path, 20, walLimitBytes);
  const insert = db.prepare('INSERT INTO t (k, body) VALUES (?, ?)');
  const update = db.prepare('UPDATE t SET body = ? WHERE k = ?');
  const body = 'x'.repeat(600);
  let max = 0;
  let last = 0;
  let shrinks = 0;
  const end = Date.now() + ms;
  // Small transactions a couple of milliseconds apart, like the store's group commits under load.
  for (let i = 0; Date.now() < end; i++) {
    db.transaction(() => {
      for (let j = 0; j < 20; j++) {
        insert.run(`k${i}-${j}`, body);
        update.run(`${body}!`, `k${i}-${j}`);
      }
    })();
    const size = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (size < last) shrinks++;
    last = size;
    max = Math.max(max, size);
    await new Promise((r) => setTimeout(r, 2));
  }
  // Writes have stopped: the next checkpoints copy what is left and give the file's space back.
  let idleSize = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  for (let i = 0; i < 500 && idleSize > 0 && walLimitBytes < Number.MAX_SAFE_INTEGER; i++) {
    await new Promise((r) => setTimeout(r, 10));
    idleSize = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  }
  await checkpointer.stop();
  expect(checkpointer.error).toBeUndefined();
  db.close();
  return { max, shrinks, idleSize };
}

describe('WAL under a steady write load', () => {
  it('stays bounded while writes go on, and is truncated once they stop (regression)', async () => {
    const limit = 1024 * 1024;
    // PASSIVE only (the old behaviour): while PASSIVE cannot catch the last frames the log is never
    // restarted, and the file grows for as long as the writes go on.
    const passive = await load('passive-only', Number.MAX_SAFE_INTEGER, 3000);
    const bounded = await load('restarting', limit, 3000);
    console.log(
      `WAL peak ${(passive.max / 2 ** 20).toFixed(1)} MiB (PASSIVE only); ` +
        `${(bounded.max / 2 ** 20).toFixed(1)} MiB with a 1 MiB limit, ${bounded.idleSize} bytes once idle`,
    );
    expect(passive.shrinks).toBe(0);
    expect(passive.max).toBeGreaterThan(bounded.max);
    // The limit, plus what is written between the check that finds it passed and the reset.
    expect(bounded.max).toBeLessThan(3 * limit);
    expect(bounded.idleSize).toBe(0);
  }, 60_000);
});

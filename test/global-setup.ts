// Suite-wide services: builds nothing, starts a throw-away Redis on a free loopback port when
// redis-server exists, and exposes its URL to every test file as GUESTKIT_TEST_REDIS_URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

let redis: ChildProcess | undefined;
let redisDir: string | undefined;

export async function setup(): Promise<void> {
  if (process.env.GUESTKIT_TEST_REDIS_URL || !existsSync('/usr/bin/redis-server')) return;
  const port = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), 'guestkit-redis-'));
  redis = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      import('node:net').then(({ connect }) => {
        const s = connect(port, '127.0.0.1', () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  process.env.GUESTKIT_TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
  process.env.GUESTKIT_TEST_REDIS_PORT = String(port);
}

export async function teardown(): Promise<void> {
  redis?.kill('SIGTERM');
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
}

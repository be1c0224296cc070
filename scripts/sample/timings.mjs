// `node scripts/sample/timings.mjs <state-dir> <job-id>`: how long the job's libguestfs appliance
// took to start, from the progress events the daemon stored (disk_attach → disk_inspection).
// Prints seconds with one decimal, or nothing when the events do not tell.
import { join } from 'node:path';
import { SqliteStore } from '../../dist/src/store/sqlite.js';

const [stateDir, jobId] = process.argv.slice(2);
const store = new SqliteStore({ path: join(stateDir, 'worker.db') });
await store.open();
try {
  const events = await store.events(jobId);
  const start = events.find((e) => e.phase === 'disk_attach');
  const ready = events.find((e) => e.phase === 'disk_inspection');
  if (start && ready) {
    const s = (Date.parse(ready.timestamp) - Date.parse(start.timestamp)) / 1000;
    process.stdout.write(`${s.toFixed(1)}\n`);
  }
} finally {
  await store.close();
}

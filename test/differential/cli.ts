// `npm run test:differential -- --runs N [--seed S] [--per-launch K] [--parallel P]`: N generated
// guests, K per appliance launch, P launches at once, fast inspection against inspect_os; prints
// each batch's differences as it ends, then the figures and the minimal case of the first
// difference; exits 1 on any difference.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBatch, sampleGuests, shrink, type Difference } from './harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    seed: { type: 'string', default: '20261205' },
    'per-launch': { type: 'string', default: '25' },
    parallel: { type: 'string', default: '1' },
  },
});
const runs = Number(values.runs);
const seed = Number(values.seed);
const perLaunch = Number(values['per-launch']);
const parallel = Math.max(1, Number(values.parallel));
const cache = join(process.cwd(), '.cache', 'differential');
const guests = sampleGuests(seed, runs);
const started = performance.now();
let compared = 0;
let declined = 0;
let launches = 0;
const differences: Difference[] = [];
const starts: number[] = [];
for (let at = 0; at < guests.length; at += perLaunch) starts.push(at);
// Batches are independent (one disk and one appliance each): P workers take them in order.
await Promise.all(
  Array.from({ length: parallel }, async () => {
    for (let at = starts.shift(); at !== undefined; at = starts.shift()) {
      const batch = guests.slice(at, at + perLaunch);
      const r = await runBatch(batch, `seed${seed}-${at}`, cache);
      launches++;
      compared += r.compared;
      declined += r.declined.length;
      differences.push(...r.differences);
      process.stderr.write(
        `batch of guests ${at}-${at + batch.length - 1}: ${r.compared} compared, ${r.declined.length} left to inspect_os, ${r.differences.length} differences\n`,
      );
      for (const d of r.differences)
        process.stderr.write(`  guest ${guests.indexOf(d.spec)} ${d.field}: ${JSON.stringify(d)}\n`);
    }
  }),
);
const failing = new Set(differences.map((d) => JSON.stringify(d.spec)));
console.log(
  JSON.stringify(
    {
      seed,
      generated: runs,
      compared,
      declined_by_fast_path: declined,
      agreeing: compared - failing.size,
      differing_guests: failing.size,
      launches,
      parallel,
      seconds: Math.round((performance.now() - started) / 1000),
    },
    null,
    2,
  ),
);
for (const d of differences.slice(0, 8))
  console.log('difference:', d.field, JSON.stringify({ fast: d.fast, libguestfs: d.libguestfs }));
for (const d of differences.slice(0, process.env.DIFF_SHRINK === '0' ? 0 : 1)) {
  const { minimal, rounds } = await shrink(d, `seed${seed}-min`, cache);
  console.log(`minimal case after ${rounds} shrink rounds:`, JSON.stringify(minimal, null, 2));
}
process.exitCode = differences.length > 0 ? 1 : 0;

#!/usr/bin/env node
// The whole test suite: lint and type checks, then vitest. Prints one plain closing line
// ("Tests: N passed, N failed, N skipped") and fails if any qemu appliance outlived the suite.
import { spawnSync, execSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;

if (run('npm', ['run', '--silent', 'lint']) !== 0) {
  console.error('lint failed');
  process.exit(1);
}

mkdirSync('test-results', { recursive: true });
const status = run('npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  '--outputFile.json=test-results/vitest.json',
  ...process.argv.slice(2),
]);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync('test-results/vitest.json', 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  skipped = report.numPendingTests + report.numTodoTests;
} catch {
  failed = Math.max(failed, 1);
}

let leftover = '';
try {
  leftover = execSync("pgrep -a -f '^[^ ]*qemu-system' || true", { encoding: 'utf8' }).trim();
} catch {
  /* pgrep missing: nothing to report */
}
if (leftover) console.error(`qemu processes left after the suite:\n${leftover}`);

console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
// In CI a skipped test is a failure: a missing component (redis-server, chromium, buildah, root)
// must fail the run, not pass it quietly. Locally, `-t` filters skip on purpose.
const ci = /^(1|true|yes)$/i.test(process.env.CI ?? '');
if (ci && skipped > 0) console.error(`CI: ${skipped} test(s) skipped; every test must run in CI`);
process.exit(status !== 0 || failed > 0 || leftover || (ci && skipped > 0) ? 1 : 0);

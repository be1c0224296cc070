// The qemu processes this test process started (from any of its threads): what a leak leaves behind.
import { readdirSync, readFileSync } from 'node:fs';

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // the thread or process ended between listing and reading
  }
}

export function qemuChildren(): number[] {
  const pids = readdirSync('/proc/self/task').flatMap((t) =>
    readOrEmpty(`/proc/self/task/${t}/children`).trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return pids.filter((p) => readOrEmpty(`/proc/${p}/cmdline`).includes('qemu'));
}

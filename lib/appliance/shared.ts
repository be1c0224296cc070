// A process-wide pool for library users who want one (the worker owns its own). Configured by
// options only: lib/ reads no environment.
import { AppliancePool } from './pool.js';
import type { AppliancePoolOptions, AppliancePoolStatus } from './types.js';

let shared: AppliancePool | undefined;
let sharedOptions: AppliancePoolOptions = {};

/**
 * The worker's pool, created on first use (handlers of every operation share it, so their drives
 * batch together). `configureSharedAppliancePool` sets its options before that first use.
 */
export function getSharedAppliancePool(): AppliancePool {
  shared ??= new AppliancePool(sharedOptions);
  return shared;
}

/** Options for the shared pool; applies to the next pool created (after close, too). */
export function configureSharedAppliancePool(options: AppliancePoolOptions): void {
  sharedOptions = { ...sharedOptions, ...options, guestfs: { ...sharedOptions.guestfs, ...options.guestfs } };
}

/** Status of the shared pool without creating it. */
export function sharedAppliancePoolStatus(): AppliancePoolStatus | null {
  return shared ? shared.status() : null;
}

/** Closes the shared pool (worker stop): no qemu survives. The next use creates a new pool. */
export async function closeSharedAppliancePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}

/**
 * Worker stop: closes the shared pool when no job of any worker in this process still uses it
 * (several workers may share one process in tests and embeddings).
 */
export async function closeSharedAppliancePoolIfIdle(): Promise<boolean> {
  const s = shared?.status();
  if (!s || s.running > 0 || s.queued > 0) return false;
  await closeSharedAppliancePool();
  return true;
}

// The process-wide pool of the worker, configured from the environment.
import { AppliancePool } from './pool.js';
import type { AppliancePoolOptions, AppliancePoolStatus } from './types.js';

let shared: AppliancePool | undefined;
let sharedOptions: AppliancePoolOptions = {};

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Environment overrides: GUESTKIT_APPLIANCE_DRIVES, GUESTKIT_APPLIANCES, GUESTKIT_APPLIANCE_BATCH_MS,
 * GUESTKIT_APPLIANCE_LINGER_MS, GUESTKIT_APPLIANCE_SHARING=0. The fast-inspection switch comes from
 * the worker's configuration (configureSharedAppliancePool), not from here.
 */
function envPoolOptions(): AppliancePoolOptions {
  const o: AppliancePoolOptions = {};
  const drives = envNumber('GUESTKIT_APPLIANCE_DRIVES');
  const appliances = envNumber('GUESTKIT_APPLIANCES');
  const windowMs = envNumber('GUESTKIT_APPLIANCE_BATCH_MS');
  const lingerMs = envNumber('GUESTKIT_APPLIANCE_LINGER_MS');
  if (lingerMs !== undefined) o.reservationLingerMs = lingerMs;
  if (drives !== undefined) o.maxDrivesPerAppliance = drives;
  if (appliances !== undefined) o.maxAppliances = appliances;
  if (windowMs !== undefined) o.batchWindowMs = windowMs;
  if (process.env.GUESTKIT_APPLIANCE_SHARING === '0') o.sharing = false;
  return o;
}

/**
 * The worker's pool, created on first use (handlers of every operation share it, so their drives
 * batch together). `configureSharedAppliancePool` sets its options before that first use.
 */
export function getSharedAppliancePool(): AppliancePool {
  shared ??= new AppliancePool({ ...envPoolOptions(), ...sharedOptions });
  return shared;
}

/** Options for the shared pool; applies to the next pool created (after close, too). */
export function configureSharedAppliancePool(options: AppliancePoolOptions): void {
  sharedOptions = { ...sharedOptions, ...options };
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

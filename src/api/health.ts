// Health for the API: the worker's own checks (store writable, queue state) plus a libguestfs
// check that really talks to the library (create a handle, read its version) — cached, because
// health is polled often and must never cost an appliance launch or a thread per request.
import type { HealthCheck, HealthReport, Worker } from '../worker/types.js';

export interface HealthOptions {
  /** How long a libguestfs check result is reused (default 60 s). */
  libguestfsTtlMs?: number;
  /** Replaces the libguestfs probe (tests). */
  libguestfsProbe?: () => Promise<HealthCheck>;
}

async function probeLibguestfs(): Promise<HealthCheck> {
  const t0 = performance.now();
  try {
    const { Guestfs } = await import('../../lib/guestfs.js');
    const g = await Guestfs.create();
    try {
      const v = await g.version();
      return {
        status: 'ok',
        message: `libguestfs ${v.major}.${v.minor}.${v.release}`,
        latency_ms: Math.round((performance.now() - t0) * 100) / 100,
      };
    } finally {
      await g.close();
    }
  } catch (err) {
    return { status: 'error', message: `libguestfs unusable: ${(err as Error).message}` };
  }
}

function overall(checks: Record<string, HealthCheck>): HealthReport['status'] {
  if (checks.store?.status === 'error') return 'unhealthy';
  return Object.values(checks).some((c) => c.status !== 'ok') ? 'degraded' : 'healthy';
}

/** Returns a function producing the health report the API serves. */
export function healthReporter(worker: Worker, options: HealthOptions = {}): () => Promise<HealthReport> {
  const ttl = options.libguestfsTtlMs ?? 60_000;
  const probe = options.libguestfsProbe ?? probeLibguestfs;
  let cached: { at: number; check: Promise<HealthCheck> } | undefined;
  const libguestfs = () => {
    if (!cached || Date.now() - cached.at > ttl) cached = { at: Date.now(), check: probe() };
    return cached.check;
  };
  return async () => {
    const [report, lg] = await Promise.all([worker.health(), libguestfs()]);
    const checks = { ...report.checks, libguestfs: lg };
    return { ...report, checks, status: overall(checks) };
  };
}

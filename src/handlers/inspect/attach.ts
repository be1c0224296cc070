// The common start of every disk-reading handler (inspect, profile, compare): allowed paths,
// checksum verification overlapped with the appliance boot, the shared appliance pool, and
// libguestfs failures turned into protocol errors.
import {
  getSharedAppliancePool,
  type ApplianceLease,
  type AppliancePool,
} from '../../../lib/appliance/index.js';
import { verifyFile } from '../../../lib/checksum.js';
import { GuestfsError } from '../../../lib/guestfs.js';
import type { WorkerConfig } from '../../config.js';
import { HandlerError, isCodedError } from '../../protocol/errors.js';
import type { JobEnvelope } from '../../protocol/schema.js';
import { openPinned } from '../image.js';
import type { HandlerContext, ReserveContext } from '../types.js';
import type { ImageSpec } from './payload.js';
import type { ImageInfo } from './report.js';

export interface AttachOptions {
  /** Never share the appliance with other jobs. */
  isolated?: boolean;
  /** Field names for messages, one per image (default `payload.data.image.path`). */
  fields?: string[];
  /** Another pool than the worker's shared one (tests, CLI). */
  pool?: AppliancePool;
}

let poolOverride: AppliancePool | undefined;
/** Makes handlers use `pool` instead of the shared one (CLI, benchmarks); undefined restores it. */
export function useAppliancePool(pool: AppliancePool | undefined): void {
  poolOverride = pool;
}

/** Which jobs may share an appliance (pool/namespace) and the largest disk a job accepts. */
function poolScope(job: JobEnvelope, config: Readonly<WorkerConfig>) {
  const ns = job.metadata?.namespace ?? 'default';
  return {
    group: `${config.pool}/${ns}`,
    maxVirtualSizeBytes:
      Math.min(config.maxDiskSizeGb, job.constraints?.maximum_disk_size_gb ?? Infinity) * 1024 ** 3,
  };
}

/**
 * The disk handlers' `reserve` hook: a pending job's images, resolved and confined like
 * withImages does, are reserved in the pool so the launch about to be made attaches them and the
 * job's withImages finds them up. Anything that would fail (path not allowed, probe) reserves
 * nothing: the job reports it when it runs.
 */
export function reserveImages<T>(
  pick: (data: T) => { images: readonly ImageSpec[]; isolated: boolean },
): (ctx: ReserveContext<T>) => Promise<void> {
  return async (ctx) => {
    const { images, isolated } = pick(ctx.data);
    if (isolated) return;
    let pins: Pinned[];
    try {
      pins = await pinImages(ctx.config, images);
    } catch {
      return;
    }
    if (ctx.signal.aborted) return void closeAll(pins);
    // The job takes these very files when it runs (withImages); unclaimed, they close with the
    // reservation (the signal aborts when the job left the queue or has run).
    reservedPins.set(ctx.jobId, pins);
    ctx.signal.addEventListener(
      'abort',
      () => {
        if (reservedPins.get(ctx.jobId) === pins) {
          reservedPins.delete(ctx.jobId);
          void closeAll(pins);
        }
      },
      { once: true },
    );
    const pool = poolOverride ?? getSharedAppliancePool();
    await pool.reserve(
      ctx.jobId,
      pins.map((p) => ({ path: p.pinned.layers[0].file.name, format: p.pinned.format, readonly: true })),
      { ...poolScope(ctx.job, ctx.config), signal: ctx.signal },
    );
  };
}

type Pinned = Awaited<ReturnType<typeof openPinned>>;
/** Pins made by reserveImages, by job id, until the job claims them or leaves the queue. */
const reservedPins = new Map<string, Pinned[]>();

async function closeAll(pins: readonly Pinned[]): Promise<void> {
  await Promise.all(pins.map((p) => p.cleanup()));
}

/**
 * Opens and checks each image as an appliance drive: self-contained (no backing file, data file
 * or extent elsewhere), inside the allowed roots, held open so the appliance gets exactly it.
 */
async function pinImages(
  config: Readonly<WorkerConfig>,
  images: readonly ImageSpec[],
  fields?: readonly string[],
): Promise<Pinned[]> {
  const pins: Pinned[] = [];
  try {
    for (const [i, img] of images.entries()) {
      pins.push(
        await openPinned(config, img.path, {
          field: (fields?.[i] ?? 'payload.data.image.path').replace(/\.path$/, ''),
          standalone: true,
          ...(img.format ? { format: img.format } : {}),
        }),
      );
    }
    return pins;
  } catch (err) {
    await closeAll(pins);
    throw err;
  }
}

/** This job's reserved pins if they still name the files its images name now, else new ones. */
async function claimPins(
  ctx: HandlerContext<unknown>,
  images: readonly ImageSpec[],
  fields: readonly string[] | undefined,
  pool: AppliancePool,
) {
  const reserved = reservedPins.get(ctx.jobId);
  reservedPins.delete(ctx.jobId);
  const fresh = await pinImages(ctx.config, images, fields);
  if (!reserved) return fresh;
  const same = reserved.every((r, i) => {
    const a = r.pinned.layers[0].file.stat;
    const b = fresh[i].pinned.layers[0].file.stat;
    return a.ino === b.ino && a.dev === b.dev && r.pinned.format === fresh[i].pinned.format;
  });
  // Same files: keep the reserved descriptors (the appliance may already have them attached).
  // Else the reservation goes before its descriptors close: a launch must not re-open their
  // numbers once something else may hold them.
  if (!same) pool.release(ctx.jobId);
  await closeAll(same ? fresh : reserved);
  if (same) await Promise.all(reserved.map((r) => r.pinned.verify()));
  return same ? reserved : fresh;
}

/** A failure inside the appliance as a job error (qemu died, a call failed, the handle was killed). */
export function applianceFailure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (isCodedError(err)) return err;
  if (err instanceof GuestfsError) {
    return new HandlerError('APPLIANCE_ERROR', `libguestfs ${err.action} failed: ${err.message}`, {
      phase: 'disk_inspection',
      details: { action: err.action, errno: err.code },
      recoverable: err.code === 'EKILLED' || err.action === 'launch',
      cause: err,
    });
  }
  return err;
}

/**
 * Attaches `images` (one appliance, request order) and runs `fn` on the lease. Checksums are
 * verified while the appliance boots; `fn`'s result is only returned once every checksum matched,
 * and a mismatch aborts the work at once (IMAGE_CHECKSUM_MISMATCH, phase checksum).
 */
export async function withImages<T>(
  ctx: HandlerContext<unknown>,
  images: readonly ImageSpec[],
  fn: (lease: ApplianceLease, info: ImageInfo[]) => Promise<T>,
  options: AttachOptions = {},
): Promise<T> {
  ctx.progress('validation', 2, `Checking ${images.map((i) => i.path).join(', ')}`);
  const pool = options.pool ?? poolOverride ?? getSharedAppliancePool();
  const pins = await claimPins(ctx, images, options.fields, pool);
  try {
    const result = await attached(ctx, images, pins, fn, options, pool);
    // The files the appliance read are the ones checked; an in-place change meanwhile voids it.
    for (const p of pins) await p.pinned.verify();
    return result;
  } finally {
    await closeAll(pins);
  }
}

async function attached<T>(
  ctx: HandlerContext<unknown>,
  images: readonly ImageSpec[],
  pins: readonly Pinned[],
  fn: (lease: ApplianceLease, info: ImageInfo[]) => Promise<T>,
  options: AttachOptions,
  pool: AppliancePool,
): Promise<T> {
  const real = pins.map((p) => p.pinned.layers[0].file.name);
  const work = new AbortController();
  const stop = () => work.abort(ctx.signal.reason);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    const checks = images.map(async (img, i) => {
      if (!img.checksum) {
        ctx.metrics.checksum('skipped');
        return;
      }
      ctx.progress('checksum', 5, `Verifying the checksum of ${img.path} (while the appliance starts)`);
      let bytes = 0;
      const result = await verifyFile(real[i], img.checksum, {
        signal: work.signal,
        // Runs while this job's appliance boots: the boot keeps the CPU it needs.
        priority: 'background',
        onProgress: (p) => (bytes = p.bytes),
      });
      ctx.metrics.diskRead(bytes);
      if (!result.ok) {
        ctx.metrics.checksum('failure');
        throw new HandlerError(
          'IMAGE_CHECKSUM_MISMATCH',
          `Image checksum verification failed for ${img.path}`,
          {
            phase: 'checksum',
            details: { expected: result.expected, actual: result.actual },
          },
        );
      }
      ctx.metrics.checksum('success');
      ctx.progress('checksum', 10, `Checksum of ${img.path} matches`);
    });
    const verified = Promise.all(checks).catch((err: unknown) => {
      work.abort(err); // a mismatch kills this job's work in the appliance at once
      throw ctx.signal.aborted ? ctx.signal.reason : err;
    });
    const inspected = pool.run(
      real.map((path, i) => ({ path, format: pins[i].pinned.format, readonly: true })),
      async (lease) => {
        const info: ImageInfo[] = lease.drives.map((d, i) => ({
          path: images[i].path,
          format: d.format,
          size_bytes: d.actualSizeBytes,
          virtual_size_bytes: d.virtualSizeBytes,
          ...(images[i].checksum ? { checksum: `sha256:${images[i].checksum}` } : {}),
        }));
        try {
          return await fn(lease, info);
        } catch (err) {
          throw applianceFailure(err, lease.signal);
        }
      },
      {
        signal: work.signal,
        ...poolScope(ctx.job, ctx.config),
        shareable: !options.isolated,
        reservation: ctx.jobId,
        onStage: (stage) => {
          if (stage === 'queued') ctx.progress('disk_attach', 12, 'Waiting for an appliance');
          else if (stage === 'launching')
            ctx.progress('disk_attach', 15, 'Starting the libguestfs appliance');
          else ctx.progress('disk_inspection', 30, 'Appliance ready; inspecting the disk');
        },
      },
    );
    // Both settle before we decide: the checksum error wins over the abort it caused.
    const [check, result] = await Promise.allSettled([verified, inspected]);
    if (check.status === 'rejected') throw check.reason;
    if (result.status === 'rejected') throw ctx.signal.aborted ? ctx.signal.reason : result.reason;
    return result.value;
  } finally {
    ctx.signal.removeEventListener('abort', stop);
  }
}

// Preparing a job's disk image before any handler touches it: allowed path, trusted format
// (declared, checked against qemu-img's probe), every backing file inside the allowed roots, size
// limit, and the optional SHA-256 checksum on the native hasher.
import { HandlerError, WorkerError } from '../protocol/errors.js';
import { backingChain, imageInfo, type ImageInfo } from '../tools/qemu-img.js';
import { resolveAllowedPath } from '../worker/paths.js';
import { libguestfsAvailability } from '../../lib/native.js';
import type { HandlerAvailability, HandlerContext } from './types.js';

/** Payload formats → qemu-img format names (`img` is raw). */
export function normaliseFormat(format: string): string {
  const f = format.trim().toLowerCase();
  return f === 'img' ? 'raw' : f;
}

export interface PreparedImage {
  /** Real path (symlinks resolved) inside the allowed roots. */
  path: string;
  /** qemu-img format to open it with (declared, or detected when none was declared). */
  format: string;
  detectedFormat: string;
  virtualSize: number;
  actualSize: number;
  /** Backing files under the image, top first (empty for a standalone image). */
  backing: string[];
  info: ImageInfo;
}

export interface PrepareImageOptions {
  /** Field name for messages, e.g. `payload.data.source`. */
  field: string;
  format?: string;
}

/**
 * Resolves and describes an input image. A declared format wins over probing (probing an
 * untrusted image is a known hole); a declared non-raw format that disagrees with the file is
 * refused, since opening it that way would fail later with a murkier message.
 */
export async function prepareImage(
  ctx: HandlerContext<unknown>,
  rawPath: string,
  options: PrepareImageOptions,
): Promise<PreparedImage> {
  const roots = ctx.config.allowedRoots;
  const path = await resolveAllowedPath(rawPath, roots, { kind: 'file', field: `${options.field}.path` });
  let chain: ImageInfo[];
  try {
    chain = await backingChain(path, { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new HandlerError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `qemu-img cannot read ${rawPath}: ${(err as Error).message}`,
      { phase: 'validation', cause: err },
    );
  }
  let top = chain[0];
  const declared = options.format ? normaliseFormat(options.format) : undefined;
  if (declared && declared !== 'raw' && declared !== top.format) {
    throw new HandlerError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `${rawPath} is ${top.format}, not ${declared} as ${options.field}.format says; fix the format or omit it`,
      { phase: 'validation', details: { declared, detected: top.format } },
    );
  }
  const format = declared ?? top.format;
  // Declared raw wins over a header that looks like something else: sizes are the file's own.
  if (format === 'raw' && top.format !== 'raw')
    top = await imageInfo(path, { format: 'raw', signal: ctx.signal });
  const backing: string[] = [];
  // Only the formats that can have backing files are followed; a raw-declared file has none.
  if (format !== 'raw') {
    for (const layer of chain.slice(1)) {
      await resolveAllowedPath(layer.path, roots, { kind: 'file', field: `${options.field} backing file` });
      backing.push(layer.path);
    }
  }
  if (top.encrypted) {
    throw new HandlerError('UNSUPPORTED_IMAGE_FORMAT', `${rawPath} is encrypted; decrypt it first`, {
      phase: 'validation',
    });
  }
  const limitGb = Math.min(
    ctx.config.maxDiskSizeGb,
    ctx.job.constraints?.maximum_disk_size_gb ?? Number.POSITIVE_INFINITY,
  );
  if (top.virtualSize > limitGb * 1024 ** 3) {
    throw new HandlerError(
      'VALIDATION_ERROR',
      `${rawPath} has a virtual size of ${(top.virtualSize / 1024 ** 3).toFixed(1)} GB, above the ${limitGb} GB limit`,
      { phase: 'validation', details: { virtual_size_bytes: top.virtualSize, limit_gb: limitGb } },
    );
  }
  return {
    path,
    format,
    detectedFormat: chain[0].format,
    virtualSize: top.virtualSize,
    actualSize: top.actualSize,
    backing,
    info: top,
  };
}

/**
 * Verifies `expected` (normalised hex) against the file with the native hasher, reporting
 * `checksum` progress and metrics. Without `expected` the verification is recorded as skipped.
 */
export async function verifyImageChecksum(
  ctx: HandlerContext<unknown>,
  path: string,
  expected: string | undefined,
): Promise<boolean> {
  if (expected === undefined) {
    ctx.metrics.checksum('skipped');
    return false;
  }
  ctx.progress('checksum', 0, `Verifying SHA-256 of ${path}`);
  let lastPercent = -1;
  let hashed = 0;
  // Loaded on first use: registering handlers must not require the native addon.
  const { sha256File } = await import('../../lib/checksum.js');
  const actual = await sha256File(path, {
    signal: ctx.signal,
    // Other jobs' appliances may be booting: the hash takes the CPU and disk they leave.
    priority: 'background',
    onProgress: ({ bytes, total }) => {
      hashed = bytes;
      const pct = total > 0 ? Math.floor((bytes / total) * 100) : 0;
      if (pct >= lastPercent + 5) {
        lastPercent = pct;
        ctx.progress('checksum', pct, `Hashed ${bytes} of ${total} bytes`);
      }
    },
  }).catch((err: unknown) => {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new WorkerError('EXECUTION_ERROR', `Cannot hash ${path}: ${(err as Error).message}`, {
      phase: 'checksum',
    });
  });
  ctx.metrics.diskRead(hashed);
  if (actual !== expected) {
    ctx.metrics.checksum('failure');
    throw new HandlerError('IMAGE_CHECKSUM_MISMATCH', `Image checksum verification failed for ${path}`, {
      phase: 'checksum',
      details: { expected, actual },
    });
  }
  ctx.metrics.checksum('success');
  ctx.progress('checksum', 100, 'Checksum verified');
  return true;
}

/**
 * `available()` of the handlers that open images with libguestfs: without it they are left out
 * of the capabilities, and the reason says what to install.
 */
export function libguestfsAvailable(): Promise<HandlerAvailability> {
  return Promise.resolve(libguestfsAvailability());
}

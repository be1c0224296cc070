// Preparing a job's disk image before any handler touches it: the image and every file it makes
// qemu open (backing files, data files, VMDK extents) resolved as qemu would, checked against the
// allowed roots and held open (lib/image), a trusted format (declared, checked against the header),
// the size limit, and the optional SHA-256 checksum on the native hasher. Every disk operation goes
// through prepareImage; what it returns names the checked files only by their open descriptors.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImageChain, type PinnedImage } from '../../lib/image/index.js';
import { normaliseFormat } from '../../lib/image/formats.js';
import { HandlerError, WorkerError } from '../protocol/errors.js';
import { imageInfo, QemuImgError, type ImageInfo } from '../tools/qemu-img.js';
import { libguestfsAvailability } from '../../lib/native.js';
import type { WorkerConfig } from '../config.js';
import type { HandlerAvailability, HandlerContext } from './types.js';

export { normaliseFormat };

export interface PreparedImage {
  /** Real path of the image inside the allowed roots (for messages and results only). */
  path: string;
  /** qemu-img format of the image. */
  format: string;
  detectedFormat: string;
  virtualSize: number;
  actualSize: number;
  /** Real paths of the backing files under the image, top first (empty for a standalone image). */
  backing: string[];
  info: ImageInfo;
  /** The checked, open files. */
  pinned: PinnedImage;
  /** What to give qemu-img as the image's filename: a json: spec of the open files (no -f). */
  qemuName: string;
  /** Closes the pinned files and removes private copies; idempotent. */
  close(): Promise<void>;
}

export interface PrepareImageOptions {
  /** Field name for messages, e.g. `payload.data.source`. */
  field: string;
  format?: string;
  /** 'write': the image (and its data file) is opened for writing (fix commits into it). */
  use?: 'read' | 'write';
  /** Refuse backing files, data files and extents elsewhere (images attached to an appliance). */
  standalone?: boolean;
}

/**
 * Opens and checks an image for a job (see the file comment). The caller must `close()` it when
 * done. A declared format wins over the header only for raw; any other disagreement is refused.
 */
export async function prepareImage(
  ctx: Pick<HandlerContext<unknown>, 'config' | 'signal' | 'job'>,
  rawPath: string,
  options: PrepareImageOptions,
): Promise<PreparedImage> {
  const { pinned, cleanup } = await openPinned(ctx.config, rawPath, options);
  try {
    const info = await imageInfo(pinned.qemuName(1), { signal: ctx.signal });
    const limitGb = Math.min(
      ctx.config.maxDiskSizeGb,
      ctx.job.constraints?.maximum_disk_size_gb ?? Number.POSITIVE_INFINITY,
    );
    if (info.virtualSize > limitGb * 1024 ** 3) {
      throw new HandlerError(
        'VALIDATION_ERROR',
        `${rawPath} has a virtual size of ${(info.virtualSize / 1024 ** 3).toFixed(1)} GB, above the ${limitGb} GB limit`,
        { phase: 'validation', details: { virtual_size_bytes: info.virtualSize, limit_gb: limitGb } },
      );
    }
    return {
      path: pinned.path,
      format: pinned.format,
      detectedFormat: pinned.layers[0].header.format,
      virtualSize: info.virtualSize,
      actualSize: info.actualSize,
      backing: pinned.layers.slice(1).map((l) => l.file.path),
      info: { ...info, path: pinned.path },
      pinned,
      qemuName: pinned.qemuName(),
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (err instanceof QemuImgError)
      throw new HandlerError('UNSUPPORTED_IMAGE_FORMAT', `qemu-img cannot read ${rawPath}: ${err.message}`, {
        phase: 'validation',
        cause: err,
      });
    throw err;
  }
}

/** The chain opened and pinned, with a private folder for rewritten VMDK descriptors. */
export async function openPinned(
  config: Readonly<Pick<WorkerConfig, 'allowedRoots'>>,
  rawPath: string,
  options: PrepareImageOptions,
): Promise<{ pinned: PinnedImage; cleanup: () => Promise<void> }> {
  // Outside every allowed root, so no job can name what is in it; mkdtemp makes it 0700.
  const privateDir = await mkdtemp(join(tmpdir(), 'guestkit-image-'));
  const removeDir = () => rm(privateDir, { recursive: true, force: true }).catch(() => undefined);
  let pinned: PinnedImage;
  try {
    pinned = await openImageChain(rawPath, {
      roots: config.allowedRoots,
      field: options.field,
      write: options.use === 'write',
      standalone: options.standalone ?? false,
      privateDir,
      ...(options.format ? { format: options.format } : {}),
    });
  } catch (err) {
    await removeDir();
    throw err;
  }
  let done: Promise<void> | undefined;
  return {
    pinned,
    cleanup: () => (done ??= pinned.close().then(removeDir)),
  };
}

/**
 * Verifies `expected` (normalised hex) against the file with the native hasher, reporting
 * `checksum` progress and metrics. Without `expected` the verification is recorded as skipped.
 */
export async function verifyImageChecksum(
  ctx: HandlerContext<unknown>,
  image: PreparedImage,
  expected: string | undefined,
): Promise<boolean> {
  const path = image.path;
  if (expected === undefined) {
    ctx.metrics.checksum('skipped');
    return false;
  }
  ctx.progress('checksum', 0, `Verifying SHA-256 of ${path}`);
  let lastPercent = -1;
  let hashed = 0;
  // Loaded on first use: registering handlers must not require the native addon.
  const { sha256File } = await import('../../lib/checksum.js');
  // The pinned descriptor: the bytes hashed are the bytes qemu will read.
  const actual = await sha256File(image.pinned.layers[0].file.name, {
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

// guestkit.convert: qemu-img convert as a child process, into a hidden temporary next to the
// target, verified (qemu-img compare of guest-visible content) and then published without ever
// overwriting an existing file. Cancel/timeout kill the child and remove the partial file.
import { statfs } from 'node:fs/promises';
import { OPERATIONS } from '../../protocol/vocabulary.js';
import { basename, dirname, extname } from 'node:path';
import { HandlerError } from '../../protocol/errors.js';
import {
  compareImages,
  convertImage,
  imageInfo,
  measureImage,
  probeQemuImg,
  type QemuImgProbe,
} from '../../tools/qemu-img.js';
import { openOutput, resolveOutputPath } from '../../worker/outputs.js';
import { prepareImage, verifyImageChecksum, type PreparedImage } from '../image.js';
import { freeSibling } from '../output-file.js';
import type { HandlerAvailability, HandlerContext, HandlerResult, JobHandler } from '../types.js';
import { validateConvertPayload, type ConvertRequest } from './payload.js';

export { validateConvertPayload, type ConvertRequest } from './payload.js';

/** Result `data` of guestkit.convert. */
export interface ConvertResultData {
  status: 'success';
  source: {
    path: string;
    format: string;
    virtual_size_bytes: number;
    allocated_size_bytes: number;
    /** False when the payload gave no checksum. */
    checksum_verified: boolean;
  };
  target: {
    path: string;
    format: ConvertRequest['target']['format'];
    compression: boolean;
    compression_type: NonNullable<ConvertRequest['target']['compressionType']> | null;
    virtual_size_bytes: number;
    allocated_size_bytes: number;
  };
  preserve_sparse: boolean;
  /** qemu-img compare of the guest-visible content (options.verify_after_convert). */
  verification: { performed: boolean; identical: boolean | null; message: string };
  duration_seconds: number;
  qemu_img_version: string | null;
}

/** Progress events during the copy: at most one per this many percent. */
const PROGRESS_STEP = 2;

async function targetPath(ctx: HandlerContext<ConvertRequest>, sourcePath: string): Promise<string> {
  const { target } = ctx.data;
  if (target.path !== undefined) {
    return resolveOutputPath(target.path, ctx.config, 'payload.data.target.path');
  }
  // Flat form: `<source stem>.<format>` next to the source, never an existing name.
  const stem = basename(sourcePath, extname(sourcePath));
  const derived = await freeSibling(dirname(sourcePath), stem, target.format);
  return resolveOutputPath(derived, ctx.config, 'target path');
}

async function run(ctx: HandlerContext<ConvertRequest>): Promise<HandlerResult<ConvertResultData>> {
  const started = performance.now();
  const { data } = ctx;
  ctx.progress('validation', 0, 'Checking source and target');
  const probe = await probeQemuImg();
  if (data.target.compressionType && !probe.compressionTypes.includes(data.target.compressionType)) {
    throw new HandlerError(
      'VALIDATION_ERROR',
      `This qemu-img (${probe.version ?? 'unknown'}) does not support ${data.target.compressionType} ` +
        `compression; use one of: ${probe.compressionTypes.join(', ') || 'none'}`,
      { phase: 'validation' },
    );
  }
  if (!probe.convertFormats.includes(data.target.format)) {
    throw new HandlerError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `This qemu-img cannot write ${data.target.format}; it supports: ${probe.convertFormats.join(', ')}`,
      { phase: 'validation' },
    );
  }
  const src = await prepareImage(ctx, data.source.path, {
    field: data.form === 'v1' ? 'payload.data.source' : 'payload.data.image',
    format: data.source.format,
  });
  try {
    return await convert(ctx, probe, src, started);
  } finally {
    await src.close();
  }
}

async function convert(
  ctx: HandlerContext<ConvertRequest>,
  probe: QemuImgProbe,
  src: PreparedImage,
  started: number,
): Promise<HandlerResult<ConvertResultData>> {
  const { data } = ctx;
  const target = await targetPath(ctx, src.path);
  const checksumVerified = await verifyImageChecksum(ctx, src, data.source.checksum);

  // Opened now: the folder written is the folder checked (worker/outputs).
  const output = await openOutput(target, ctx.config, 'target path');
  const temp = output.temp;
  try {
    await checkFreeSpace(ctx, src, output.path);
    ctx.progress('conversion', 0, `Converting ${src.format} → ${data.target.format}`);
    let lastPct = 0;
    await convertImage({
      source: src.qemuName,
      target: temp,
      targetFormat: data.target.format,
      compress: data.target.compression,
      compressionType: data.target.compressionType,
      sparse: data.preserveSparse,
      signal: ctx.signal,
      onProgress: (pct) => {
        if (pct >= lastPct + PROGRESS_STEP && pct < 100) {
          lastPct = pct;
          ctx.progress('conversion', pct, `Converted ${pct.toFixed(0)}%`);
        }
      },
    });
    ctx.progress('conversion', 100, 'Conversion finished');

    let verification: { performed: boolean; identical: boolean | null; message: string } = {
      performed: false,
      identical: null,
      message: 'verify_after_convert is false',
    };
    if (data.verify) {
      ctx.progress('verification', 0, 'Comparing guest-visible content (qemu-img compare)');
      const cmp = await compareImages(
        { path: src.qemuName },
        { path: temp, format: data.target.format },
        { signal: ctx.signal },
      );
      // compare reads both images in full (zero runs of sparse images are skipped by qemu).
      ctx.metrics.diskRead(src.actualSize);
      verification = { performed: true, identical: cmp.identical, message: cmp.message };
      if (!cmp.identical) {
        throw new HandlerError(
          'EXECUTION_ERROR',
          `Converted image differs from the source (${cmp.message}); nothing was written to ${target}`,
          { phase: 'verification', details: { verification } },
        );
      }
      ctx.progress('verification', 100, 'Guest content identical');
    }
    const out = await imageInfo(temp, { format: data.target.format, signal: ctx.signal });
    await src.pinned.verify();
    await output.publish();
    ctx.metrics.diskRead(src.actualSize);
    ctx.metrics.diskWrite(out.actualSize);
    ctx.progress('result_generation', 100, `Wrote ${target}`);
    const result: ConvertResultData = {
      status: 'success',
      source: {
        path: src.path,
        format: src.format,
        virtual_size_bytes: src.virtualSize,
        allocated_size_bytes: src.actualSize,
        checksum_verified: checksumVerified,
      },
      target: {
        path: target,
        format: data.target.format,
        compression: data.target.compression,
        compression_type: data.target.compressionType ?? null,
        virtual_size_bytes: out.virtualSize,
        allocated_size_bytes: out.actualSize,
      },
      preserve_sparse: data.preserveSparse,
      verification,
      duration_seconds: (performance.now() - started) / 1000,
      qemu_img_version: probe.version,
    };
    return { data: result, outputs: { primary: target, artifacts: [] } };
  } finally {
    // Gone after a successful publish; a partial file after any failure or abort.
    await output.close();
  }
}

/**
 * Refuses a conversion the target's filesystem cannot hold in the worst case (#14: a 212 KB qcow2
 * of 1000 G virtual size converted with preserve_sparse false wrote until the disk was full).
 * Worst case from `qemu-img measure -O qcow2`: fully allocated without sparse; with sparse, the
 * allocated data plus metadata. qcow2 for every target: only qcow2 and raw implement measure, and
 * raw's sparse figure is the virtual size although holes stay holes; the other formats write the
 * same data clusters with metadata of the same order.
 */
async function checkFreeSpace(
  ctx: HandlerContext<ConvertRequest>,
  src: PreparedImage,
  target: string,
): Promise<void> {
  const { data } = ctx;
  const sparse = data.preserveSparse;
  const m = await measureImage(src.qemuName, 'qcow2', { signal: ctx.signal });
  const need = sparse ? m.required : m.fullyAllocated;
  const fs = await statfs(dirname(target));
  const free = fs.bavail * fs.bsize;
  if (need > free) {
    throw new HandlerError(
      'VALIDATION_ERROR',
      `Not enough free space for ${target}: the conversion may write up to ${need} bytes ` +
        `(qemu-img measure, preserve_sparse ${sparse}) and ${dirname(target)} has ${free} available; ` +
        'free space, choose a target on a larger filesystem' +
        (sparse ? '' : ', or keep preserve_sparse true'),
      { phase: 'validation', details: { target, required_bytes: need, available_bytes: free } },
    );
  }
}

async function available(): Promise<HandlerAvailability> {
  const probe = await probeQemuImg();
  if (!probe.available) return { available: false, reason: probe.reason ?? 'qemu-img not found' };
  if (probe.convertFormats.length === 0)
    return { available: false, reason: 'qemu-img supports no target format' };
  return { available: true };
}

export const convertHandler: JobHandler<ConvertRequest, ConvertResultData> = {
  operation: OPERATIONS.convert,
  payloadTypes: ['guestkit.convert.v1'],
  description: 'Converts a disk image between qcow2, raw, vmdk, vdi and vhdx with qemu-img',
  validate: (data) => validateConvertPayload(data),
  run,
  available,
};

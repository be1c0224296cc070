// Image probing: what a drive is before it reaches an appliance (qemu-img, never libguestfs).
import { DISK_FORMATS } from '../vocabulary.js';
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { ApplianceError } from './errors.js';
import type { DriveRequest, ProbedDrive } from './types.js';

/** Formats an appliance may be given (qemu names); `img` in job payloads means raw. */
/** Formats a drive may have (the one list: lib/vocabulary.ts). */
export const DRIVE_FORMATS = DISK_FORMATS;

const execFileP = promisify(execFile);

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { type: string; data?: { 'data-file'?: string; extents?: { filename: string }[] } };
}

/** Formats whose metadata `qemu-img check` validates (cheap: metadata only, no data reads). */
const CHECKABLE_FORMATS = new Set(['qcow2', 'vdi', 'vhdx']);

/**
 * Refuses an image with corrupt metadata before it reaches an appliance: qemu would fail the whole
 * shared launch with a generic message, costing every drive of the batch a retry.
 */
async function checkImage(given: string, path: string, format: string): Promise<void> {
  try {
    await execFileP('qemu-img', ['check', '-U', '-f', format, '--output=json', path], {
      timeout: 120_000,
      maxBuffer: 8 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: number | string };
    // 3: leaked clusters only (harmless for reading); 63: check not supported for this image.
    if (e.code === 3 || e.code === 63) return;
    const lines = (e.stderr ?? e.message).split('\n').map((l) => l.trim());
    const reason =
      lines.find((l) => /image is corrupt/i.test(l)) ??
      lines.find((l) => l.startsWith('qemu-img:') && !/check failed/i.test(l)) ??
      lines.find((l) => l.length > 0) ??
      'metadata check failed';
    throw new ApplianceError('APPLIANCE_ERROR', `Image ${given} is corrupt (${format}): ${reason}`, {
      details: { path, format, qemu_message: reason },
      cause: err,
    });
  }
}

/**
 * Detects an image's format with `qemu-img info` (a child process, so a hostile header never runs
 * in the appliance's probing) and refuses what could make qemu read outside the image: backing
 * files, external data files, VMDK extents elsewhere. A declared format must match the detected one.
 */
export async function probeImage(drive: DriveRequest): Promise<ProbedDrive> {
  const path = resolvePath(drive.path);
  // What qemu-img would make of a directory is a message for qemu developers, and a FIFO would
  // block it: say what is wrong before it runs.
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
      throw new ApplianceError('IMAGE_NOT_FOUND', `Image not found: ${drive.path}`, { details: { path } });
    throw new ApplianceError('APPLIANCE_ERROR', `Cannot read ${drive.path}: ${err.message}`, {
      details: { path },
      cause: err,
    });
  });
  if (!st.isFile() && !st.isBlockDevice()) {
    const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a device or socket';
    throw new ApplianceError(
      'VALIDATION_ERROR',
      `Image ${drive.path} is ${kind}; only regular files and block devices are read`,
      { details: { path } },
    );
  }
  let info: QemuImgInfo;
  try {
    const { stdout } = await execFileP('qemu-img', ['info', '--output=json', '-U', path], {
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    info = JSON.parse(stdout) as QemuImgInfo;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT' && !e.stderr) {
      throw new ApplianceError('APPLIANCE_ERROR', 'qemu-img is not installed; install qemu-utils', {
        cause: err,
      });
    }
    const msg = (e.stderr ?? e.message).trim();
    if (/No such file/i.test(msg)) {
      throw new ApplianceError('IMAGE_NOT_FOUND', `Image not found: ${drive.path}`, { details: { path } });
    }
    throw new ApplianceError('APPLIANCE_ERROR', `qemu-img cannot read ${drive.path}: ${msg}`, {
      details: { path, qemu_message: msg },
      cause: err,
    });
  }
  const detected = info.format;
  if (info['backing-filename'] || info['full-backing-filename']) {
    throw new ApplianceError(
      'PATH_NOT_ALLOWED',
      `Image ${drive.path} has a backing file (${info['backing-filename'] ?? info['full-backing-filename']}); ` +
        'images must be self-contained: flatten it with `qemu-img convert` first',
      { details: { path, backing_file: info['backing-filename'] ?? info['full-backing-filename'] } },
    );
  }
  const specific = info['format-specific']?.data;
  if (specific?.['data-file']) {
    throw new ApplianceError(
      'PATH_NOT_ALLOWED',
      `Image ${drive.path} stores its data in an external file (${specific['data-file']}); convert it first`,
      { details: { path, data_file: specific['data-file'] } },
    );
  }
  for (const extent of specific?.extents ?? []) {
    if (resolvePath(extent.filename) !== path) {
      throw new ApplianceError(
        'PATH_NOT_ALLOWED',
        `VMDK ${drive.path} reads an extent from another file (${extent.filename}); use a monolithic VMDK`,
        { details: { path, extent: extent.filename } },
      );
    }
  }
  if (!(DRIVE_FORMATS as readonly string[]).includes(detected)) {
    throw new ApplianceError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `Image ${drive.path} is in format '${detected}'; supported: ${DRIVE_FORMATS.join(', ')}`,
      { details: { path, detected_format: detected } },
    );
  }
  const declared = drive.format === 'img' ? 'raw' : drive.format;
  if (declared && declared !== detected) {
    throw new ApplianceError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `Image ${drive.path} was declared '${drive.format}' but is '${detected}'; fix image.format or omit it`,
      { details: { path, declared_format: drive.format, detected_format: detected } },
    );
  }
  if (CHECKABLE_FORMATS.has(detected)) await checkImage(drive.path, path, detected);
  return {
    path,
    format: detected,
    virtualSizeBytes: info['virtual-size'],
    actualSizeBytes: info['actual-size'] ?? 0,
    readonly: drive.readonly ?? true,
  };
}

// ---- pool internals

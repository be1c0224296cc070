// The declared targets of a fix job and the commit itself: either `qemu-img commit` of the
// overlay into the image (after an optional reflink/sparse backup), or a new image converted
// from the overlay (the original is then only read). Plus the report file.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { stringify } from 'yaml';
import { HandlerError } from '../../protocol/errors.js';
import { commitImage, convertImage } from '../../tools/qemu-img.js';
import { openOutput, resolveOutputPath, writeOutputFile, type OutputConfig } from '../../worker/outputs.js';
import type { PreparedImage } from '../image.js';
import { freeSibling } from '../output-file.js';
import type { HandlerContext } from '../types.js';
import type { FixRequest } from './payload.js';
import type { FixReport, FixTargets } from './steps.js';

export async function resolveFixTargets(
  ctx: HandlerContext<FixRequest>,
  image: PreparedImage,
): Promise<FixTargets> {
  const { output, image: req } = ctx.data;
  const target = (path: string, field: string) => resolveOutputPath(path, ctx.config, field);
  let fixedImage: string | null = null;
  let backupPath: string | null = null;
  if (output.fixedImage) {
    fixedImage = await target(output.fixedImage, 'payload.data.output.fixed_image');
    if (fixedImage === image.path) {
      throw new HandlerError('VALIDATION_ERROR', 'output.fixed_image must differ from image.path', {
        phase: 'validation',
      });
    }
  } else {
    try {
      await access(image.path, constants.W_OK);
    } catch {
      throw new HandlerError(
        'VALIDATION_ERROR',
        `${image.path} is not writable, so the fix cannot be committed into it; give output.fixed_image instead`,
        { phase: 'validation' },
      );
    }
    // A backup only makes sense when the original is about to change.
    if (req.createBackup) {
      const wanted = req.backupPath ?? (await freeSibling(dirname(image.path), basename(image.path), 'bak'));
      backupPath = await target(wanted, 'payload.data.image.backup_path');
    }
  }
  const logPath = output.logPath ? await target(output.logPath, 'payload.data.output.log_path') : undefined;
  return { fixedImage, fixedImageFormat: output.fixedImageFormat ?? image.format, backupPath, logPath };
}

/** `cp --reflink=auto --sparse=always`: instant on reflink filesystems, keeps holes elsewhere. */
function copyImage(src: string, dest: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['--reflink=auto', '--sparse=always', '--', src, dest], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => (stderr ||= err.message));
    child.on('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) reject(signal.reason);
      else if (code === 0) resolve();
      else reject(new HandlerError('EXECUTION_ERROR', `Backup copy to ${dest} failed: ${stderr.trim()}`));
    });
  });
}

export async function commitFix(
  ctx: HandlerContext<FixRequest>,
  image: PreparedImage,
  overlay: string,
  targets: FixTargets,
  report: FixReport,
): Promise<void> {
  const { signal } = ctx;
  const onProgress = (pct: number) =>
    ctx.progress(
      'commit',
      Math.round(90 + pct / 20),
      `${targets.fixedImage ? 'Written' : 'Committed'} ${pct.toFixed(0)}%`,
    );
  if (targets.fixedImage) {
    ctx.progress('commit', 90, `Writing the fixed image ${targets.fixedImage}`);
    // Opened now, not at the start: the folder written is the folder checked (worker/outputs).
    const out = await openOutput(targets.fixedImage, ctx.config, 'payload.data.output.fixed_image');
    try {
      await convertImage({
        source: overlay,
        sourceFormat: 'qcow2',
        target: out.temp,
        targetFormat: targets.fixedImageFormat,
        signal,
        onProgress,
      });
      ctx.metrics.diskWrite((await out.publish()).blocks * 512);
    } finally {
      await out.close();
    }
    report.commit = { mode: 'fixed_image', target: out.path, format: targets.fixedImageFormat };
    return;
  }
  report.commit = { mode: 'none', target: image.path, format: image.format, backup: null };
  if (targets.backupPath) {
    ctx.progress('commit', 88, `Backing up ${image.path} to ${targets.backupPath}`);
    const out = await openOutput(targets.backupPath, ctx.config, 'payload.data.image.backup_path');
    let bytes: number;
    try {
      await copyImage(image.pinned.layers[0].file.name, out.temp, signal);
      bytes = (await out.publish()).size;
    } finally {
      await out.close();
    }
    ctx.metrics.diskRead(bytes);
    ctx.metrics.diskWrite(bytes);
    report.commit.backup = { path: targets.backupPath, bytes };
  }
  // Last point where an abort leaves the original untouched. The commit itself is not killed: a
  // half-written commit would corrupt the image, and it only copies the few changed clusters.
  if (signal.aborted) throw signal.reason;
  // Nobody else wrote the image (or its data file) while the appliance worked on the overlay.
  await image.pinned.verify();
  ctx.progress('commit', 90, `Committing the overlay into ${image.path}`);
  await commitImage(overlay, { onProgress });
  if (signal.aborted) {
    // The job already reads cancelled/timeout; say plainly that the image did change.
    ctx.logger.warn(
      { image: image.path },
      'fix job was stopped during qemu-img commit; the commit was completed so the image is not half-written',
    );
  }
  ctx.metrics.diskWrite((await stat(overlay)).blocks * 512);
  report.commit.mode = 'in_place';
}

/** The report at output.log_path (JSON or YAML), published whole under the output rule. */
export async function writeFixReport(
  path: string | undefined,
  format: 'json' | 'yaml',
  report: FixReport,
  config: OutputConfig,
): Promise<void> {
  if (!path) return;
  const text = format === 'yaml' ? stringify(report) : `${JSON.stringify(report, null, 2)}\n`;
  await writeOutputFile(path, text, config, 'payload.data.output.log_path');
}

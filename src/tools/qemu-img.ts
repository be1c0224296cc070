// Typed async wrapper over the qemu-img child process (qemu-utils). Every call takes an
// AbortSignal: on abort the child is SIGKILLed and the promise rejects with the signal's reason
// only after the process has exited, so callers can remove partial files safely.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuImgFromEnv } from '../config.js';
import { DISK_FORMATS } from '../protocol/vocabulary.js';
import { HandlerError } from '../protocol/errors.js';

/** Formats guestkit converts to and from. */
export const CONVERT_FORMATS = DISK_FORMATS;
export type ConvertFormat = (typeof CONVERT_FORMATS)[number];
export type CompressionType = 'zlib' | 'zstd';

const STDERR_LIMIT = 64 * 1024;

export interface RunOptions {
  signal?: AbortSignal;
  /** Receives stdout as it arrives (progress lines of `-p`). */
  onStdout?: (chunk: string) => void;
  /** Exit codes that count as success (default [0]). */
  okCodes?: readonly number[];
  /** The qemu-img binary (default `qemu-img` on PATH, or $GUESTKIT_QEMU_IMG). */
  binary?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A qemu-img run that failed: exit code and stderr in `details`. */
export class QemuImgError extends HandlerError {
  constructor(message: string, details: Record<string, unknown>) {
    super('EXECUTION_ERROR', message, { details });
    this.name = 'QemuImgError';
  }
}

function binary(options: RunOptions): string {
  return options.binary ?? qemuImgFromEnv();
}

/** Runs `qemu-img <args>`; resolves on an accepted exit code, rejects with QemuImgError otherwise. */
export function runQemuImg(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const okCodes = options.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    const child = spawn(binary(options), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let spawnError: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (options.onStdout) options.onStdout(chunk);
      else if (stdout.length < STDERR_LIMIT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += chunk;
    });
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (spawnError) {
        const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
        return reject(
          new QemuImgError(
            missing
              ? `qemu-img not found (${binary(options)}); install qemu-utils or set GUESTKIT_QEMU_IMG`
              : `qemu-img could not start: ${spawnError.message}`,
            { args: [...args] },
          ),
        );
      }
      const exit = code ?? -1;
      if (okCodes.includes(exit)) return resolve({ code: exit, stdout, stderr });
      const why = stderr.trim().split('\n').pop() || (sig ? `killed by ${sig}` : `exit code ${exit}`);
      reject(
        new QemuImgError(`qemu-img ${args[0]} failed: ${why}`, {
          args: [...args],
          exit_code: exit,
          stderr: stderr.trim(),
        }),
      );
    });
  });
}

/** Parses the `-p` progress output ("    (42.00/100%)\r"): the last percentage in the chunk. */
export function parseProgress(chunk: string): number | undefined {
  let last: number | undefined;
  for (const m of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) last = Number(m[1]);
  return last;
}

export interface ImageInfo {
  path: string;
  format: string;
  virtualSize: number;
  /** Bytes allocated on the host (`actual-size`). */
  actualSize: number;
  backingFilename?: string;
  /** The backing file as qemu-img resolved it (absolute). */
  fullBackingFilename?: string;
  backingFormat?: string;
  dirty: boolean;
  encrypted: boolean;
  compressionType?: string;
}

interface RawInfo {
  filename: string;
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag'?: boolean;
  encrypted?: boolean;
  'format-specific'?: { type: string; data?: { 'compression-type'?: string } };
}

function toInfo(raw: RawInfo): ImageInfo {
  const info: ImageInfo = {
    path: raw.filename,
    format: raw.format,
    virtualSize: raw['virtual-size'],
    actualSize: raw['actual-size'] ?? 0,
    dirty: raw['dirty-flag'] ?? false,
    encrypted: raw.encrypted ?? false,
  };
  if (raw['backing-filename'] !== undefined) info.backingFilename = raw['backing-filename'];
  if (raw['full-backing-filename'] !== undefined) info.fullBackingFilename = raw['full-backing-filename'];
  if (raw['backing-filename-format'] !== undefined) info.backingFormat = raw['backing-filename-format'];
  const ct = raw['format-specific']?.data?.['compression-type'];
  if (ct !== undefined) info.compressionType = ct;
  return info;
}

export interface InfoOptions extends RunOptions {
  /** Open as this format (trusted) instead of probing. */
  format?: string;
}

/** `qemu-img info --output=json` (shared lock `-U`, so images in use can still be described). */
export async function imageInfo(path: string, options: InfoOptions = {}): Promise<ImageInfo> {
  const args = ['info', '--output=json', '-U', ...(options.format ? ['-f', options.format] : []), path];
  const { stdout } = await runQemuImg(args, options);
  return toInfo(JSON.parse(stdout) as RawInfo);
}

/** `qemu-img measure`: bytes a conversion to `targetFormat` needs, sparse and fully allocated. */
export interface Measure {
  /** With zero runs left as holes (the default convert). */
  required: number;
  /** Every byte written (`-S 0`). */
  fullyAllocated: number;
}

/** `qemu-img measure --output=json -O <targetFormat>` of `source` (a path or a pinned json: name). */
export async function measureImage(
  source: string,
  targetFormat: string,
  options: RunOptions & { sourceFormat?: string } = {},
): Promise<Measure> {
  const args = [
    'measure',
    '--output=json',
    ...(options.sourceFormat ? ['-f', options.sourceFormat] : []),
    '-O',
    targetFormat,
    source,
  ];
  const { stdout } = await runQemuImg(args, options);
  const raw = JSON.parse(stdout) as { required: number; 'fully-allocated': number };
  return { required: raw.required, fullyAllocated: raw['fully-allocated'] };
}

/** The image and every backing file under it, top first (`info --backing-chain`). */
export async function backingChain(path: string, options: InfoOptions = {}): Promise<ImageInfo[]> {
  const args = [
    'info',
    '--output=json',
    '--backing-chain',
    '-U',
    ...(options.format ? ['-f', options.format] : []),
    path,
  ];
  const { stdout } = await runQemuImg(args, options);
  return (JSON.parse(stdout) as RawInfo[]).map(toInfo);
}

export interface ConvertOptions extends RunOptions {
  /** A path, or a pinned image's json: name (then no sourceFormat: the spec names the driver). */
  source: string;
  sourceFormat?: string;
  target: string;
  targetFormat: string;
  /** Compressed clusters (qcow2 only). */
  compress?: boolean;
  compressionType?: CompressionType;
  /** Default true: zero runs stay holes. False writes every byte (`-S 0`). */
  sparse?: boolean;
  /** 0–100, as qemu-img reports it. */
  onProgress?: (percent: number) => void;
}

export function convertArgs(o: ConvertOptions): string[] {
  const args = ['convert', '-p', ...(o.sourceFormat ? ['-f', o.sourceFormat] : []), '-O', o.targetFormat];
  if (o.compress) args.push('-c');
  if (o.compress && o.compressionType) args.push('-o', `compression_type=${o.compressionType}`);
  if (o.sparse === false) args.push('-S', '0');
  args.push(o.source, o.target);
  return args;
}

/** `qemu-img convert -p`; the target is created (or overwritten) by qemu-img: pass a fresh name. */
export async function convertImage(o: ConvertOptions): Promise<void> {
  await runQemuImg(convertArgs(o), {
    ...o,
    onStdout: (chunk) => {
      const p = parseProgress(chunk);
      if (p !== undefined) o.onProgress?.(p);
    },
  });
}

export interface CompareResult {
  identical: boolean;
  /** qemu-img's own words, e.g. "Content mismatch at offset 1048576!". */
  message: string;
}

/** `qemu-img compare` of guest-visible content (exit 0 identical, 1 different, else an error). */
export async function compareImages(
  a: { path: string; format?: string },
  b: { path: string; format?: string },
  options: RunOptions = {},
): Promise<CompareResult> {
  const formats = [...(a.format ? ['-f', a.format] : []), ...(b.format ? ['-F', b.format] : [])];
  const r = await runQemuImg(['compare', '-U', ...formats, a.path, b.path], {
    ...options,
    okCodes: [0, 1],
  });
  return { identical: r.code === 0, message: (r.stdout || r.stderr).trim() };
}

/** `qemu-img create -f qcow2 -b <backing> -F <fmt> <overlay>`: writes land in the overlay only. */
export async function createOverlay(
  overlay: string,
  backing: string,
  backingFormat: string,
  options: RunOptions = {},
): Promise<void> {
  await runQemuImg(['create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, overlay], options);
}

/** `qemu-img commit -d`: writes the overlay's clusters into its backing file (overlay left as is). */
export async function commitImage(
  overlay: string,
  options: RunOptions & { onProgress?: (percent: number) => void } = {},
): Promise<void> {
  await runQemuImg(['commit', '-p', '-d', '-f', 'qcow2', overlay], {
    ...options,
    onStdout: (chunk) => {
      const p = parseProgress(chunk);
      if (p !== undefined) options.onProgress?.(p);
    },
  });
}

export interface QemuImgProbe {
  available: boolean;
  version: string | null;
  /** Every format of `qemu-img --help`. */
  formats: string[];
  /** Of CONVERT_FORMATS, those this qemu-img supports. */
  convertFormats: ConvertFormat[];
  /** qcow2 compression types this build supports (zstd is optional at qemu build time). */
  compressionTypes: CompressionType[];
  /** Why it is unavailable. */
  reason?: string;
}

/** Supported qcow2 compression types: zlib always, zstd when creating such an image works. */
async function probeCompression(bin: RunOptions): Promise<CompressionType[]> {
  const dir = await mkdtemp(join(tmpdir(), 'guestkit-qemu-img-probe-'));
  try {
    await runQemuImg(
      ['create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', join(dir, 'z.qcow2'), '1M'],
      bin,
    );
    return ['zlib', 'zstd'];
  } catch {
    return ['zlib'];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function doProbe(options: RunOptions): Promise<QemuImgProbe> {
  try {
    const { stdout: version } = await runQemuImg(['--version'], options);
    const { stdout: help } = await runQemuImg(['--help'], options);
    const m = /Supported formats:\s*([^\n]*)/.exec(help);
    const formats = m ? [...new Set(m[1].trim().split(/\s+/).filter(Boolean))].sort() : [];
    return {
      available: true,
      version: /version\s+(\S+)/.exec(version)?.[1] ?? null,
      formats,
      convertFormats: CONVERT_FORMATS.filter((f) => formats.includes(f)),
      compressionTypes: formats.includes('qcow2') ? await probeCompression(options) : [],
    };
  } catch (err) {
    return {
      available: false,
      version: null,
      formats: [],
      convertFormats: [],
      compressionTypes: [],
      reason: (err as Error).message,
    };
  }
}

const probes = new Map<string, Promise<QemuImgProbe>>();

/** What the installed qemu-img can do; probed once per binary and cached. */
export function probeQemuImg(options: RunOptions = {}): Promise<QemuImgProbe> {
  const key = binary(options);
  let p = probes.get(key);
  if (!p) {
    p = doProbe({ binary: key });
    probes.set(key, p);
  }
  return p;
}

// guestkit.inspect.v1 payload validation (operations.md). Fast, no I/O: paths are checked when
// the job runs. The image block is shared with profile and compare.
import { DISK_FORMATS } from '../../protocol/vocabulary.js';
import { ChecksumFormatError, parseChecksum } from '../../../lib/checksum.js';
import { HandlerError, ValidationError } from '../../protocol/errors.js';
import { DEFAULT_INSPECT_OPTIONS, type InspectOptions } from './report.js';

/** Formats a payload may name (`img` = raw); `ova` is an archive, refused with its own message. */
/** The disk formats, plus `img` (the original worker's name for raw). */
export const PAYLOAD_FORMATS = [...DISK_FORMATS, 'img'] as const;

export interface ImageSpec {
  path: string;
  /** Normalised qemu name (`img` → `raw`), undefined = detect. */
  format: string | undefined;
  /** 64 lowercase hex digits, undefined = no verification. */
  checksum: string | undefined;
  sizeBytes: number | undefined;
}

export interface OutputSpec {
  format: 'json' | 'yaml';
  destination: string | undefined;
  compression: 'gzip' | null;
}

export interface InspectPayload {
  image: ImageSpec;
  options: InspectOptions;
  output: OutputSpec;
  /** options.isolated_appliance: never share an appliance with other jobs (untrusted tenants). */
  isolated: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(field: string, rule: string): never {
  throw new ValidationError(`Invalid field value: ${field} - ${rule}`);
}

/** Validates an `image` block (`field` names it in messages, e.g. `payload.data.baseline`). */
export function validateImage(value: unknown, field = 'payload.data.image'): ImageSpec {
  if (value === undefined) throw new ValidationError(`Missing required field: ${field}`);
  if (!isObj(value)) fail(field, 'must be an object');
  if (value.path === undefined) throw new ValidationError(`Missing required field: ${field}.path`);
  if (typeof value.path !== 'string' || value.path.trim() === '' || value.path.includes('\0')) {
    fail(`${field}.path`, 'must be a non-empty path');
  }
  let format: string | undefined;
  if (value.format !== undefined && value.format !== null) {
    if (typeof value.format !== 'string') fail(`${field}.format`, 'must be a string');
    const f = value.format.toLowerCase();
    if (f === 'ova') {
      throw new HandlerError(
        'UNSUPPORTED_IMAGE_FORMAT',
        `OVA archives are not supported: extract the disk (tar -xf ${value.path}) and submit the .vmdk inside`,
        { phase: 'validation', details: { format: value.format } },
      );
    }
    if (!(PAYLOAD_FORMATS as readonly string[]).includes(f)) {
      fail(`${field}.format`, `must be one of ${PAYLOAD_FORMATS.join(', ')}, got '${value.format}'`);
    }
    format = f === 'img' ? 'raw' : f;
  }
  let checksum: string | undefined;
  if (value.checksum !== undefined && value.checksum !== null) {
    try {
      checksum = parseChecksum(value.checksum as string);
    } catch (err) {
      if (err instanceof ChecksumFormatError)
        throw new ValidationError(err.message, { field: `${field}.checksum` });
      throw err;
    }
  }
  let sizeBytes: number | undefined;
  if (value.size_bytes !== undefined && value.size_bytes !== null) {
    if (typeof value.size_bytes !== 'number' || !Number.isInteger(value.size_bytes) || value.size_bytes < 0) {
      fail(`${field}.size_bytes`, 'must be a non-negative integer');
    }
    sizeBytes = value.size_bytes;
  }
  if (value.read_only !== undefined && typeof value.read_only !== 'boolean') {
    fail(`${field}.read_only`, 'must be a boolean');
  }
  return { path: value.path, format, checksum, sizeBytes };
}

/** Validates an `output` block; `destination` absent → the report is only in the result. */
export function validateOutput(value: unknown, field = 'payload.data.output'): OutputSpec {
  if (value === undefined || value === null)
    return { format: 'json', destination: undefined, compression: null };
  if (!isObj(value)) fail(field, 'must be an object');
  const format = value.format ?? 'json';
  if (format !== 'json' && format !== 'yaml')
    fail(`${field}.format`, `must be 'json' or 'yaml', got '${String(format)}'`);
  let destination: string | undefined;
  if (value.destination !== undefined && value.destination !== null) {
    if (
      typeof value.destination !== 'string' ||
      value.destination.trim() === '' ||
      value.destination.includes('\0')
    ) {
      fail(`${field}.destination`, 'must be a non-empty path');
    }
    destination = value.destination;
  }
  const compression = value.compression ?? null;
  if (compression !== null && compression !== 'gzip') {
    fail(
      `${field}.compression`,
      `must be null or 'gzip' (zstd is not supported by this worker), got '${String(compression)}'`,
    );
  }
  return { format, destination, compression };
}

export function validateInspectPayload(data: unknown): InspectPayload {
  if (!isObj(data)) throw new ValidationError('Invalid field value: payload.data - must be an object');
  const image = validateImage(data.image);
  const options: InspectOptions = { ...DEFAULT_INSPECT_OPTIONS };
  let isolated = false;
  if (data.options !== undefined && data.options !== null) {
    if (!isObj(data.options)) fail('payload.data.options', 'must be an object');
    for (const key of Object.keys(DEFAULT_INSPECT_OPTIONS) as (keyof InspectOptions)[]) {
      const v = data.options[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'boolean') fail(`payload.data.options.${key}`, 'must be a boolean');
      options[key] = v;
    }
    const iso = data.options.isolated_appliance;
    if (iso !== undefined && iso !== null) {
      if (typeof iso !== 'boolean') fail('payload.data.options.isolated_appliance', 'must be a boolean');
      isolated = iso;
    }
  }
  return { image, options, output: validateOutput(data.output), isolated };
}

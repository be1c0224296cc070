// Payload pieces guestkit.profile and guestkit.compare share: the image block (as guestkit.inspect
// takes it) and the output block, plus the profile payload itself.
import { HandlerError } from '../../protocol/errors.js';
import { bool, checksum, invalid, obj, oneOf, str, type Obj } from '../payload-fields.js';
import { PROFILE_NAMES, SEVERITIES, type ProfileName, type ProfileOptions, type Severity } from './types.js';

const IMAGE_FORMATS = ['qcow2', 'raw', 'img', 'vmdk', 'vdi', 'vhdx'] as const;

export interface ImageSpec {
  path: string;
  /** qemu format name (`img` normalised to `raw`); undefined = detect with qemu-img. */
  format?: string;
  /** Lowercase hex SHA-256 to verify before use. */
  checksum?: string;
}

export interface OutputSpec {
  format: 'json' | 'yaml';
  destination: string | null;
  compression: 'gzip' | null;
}

export function parseImageSpec(v: unknown, field: string): ImageSpec {
  const o = obj(v, field, true) as Obj;
  const path = str(o.path, `${field}.path`, true) as string;
  if (typeof o.format === 'string' && o.format.trim().toLowerCase() === 'ova') {
    throw new HandlerError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `${field}.format: ova archives are not disk images; extract the disk (vmdk) from the archive first`,
      { phase: 'validation' },
    );
  }
  const format = oneOf(o.format, `${field}.format`, IMAGE_FORMATS);
  const sum = checksum(o.checksum, `${field}.checksum`);
  if (o.size_bytes !== undefined && (typeof o.size_bytes !== 'number' || o.size_bytes < 0)) {
    throw invalid(`${field}.size_bytes`, 'must be a non-negative number');
  }
  bool(o.read_only, `${field}.read_only`, true); // always opened read-only; checked for type only
  return {
    path,
    ...(format ? { format: format === 'img' ? 'raw' : format } : {}),
    ...(sum ? { checksum: sum } : {}),
  };
}

export function parseOutput(v: unknown, field: string): OutputSpec {
  const o = obj(v, field) ?? {};
  const compression = o.compression === undefined || o.compression === null || o.compression === 'none';
  if (!compression && o.compression !== 'gzip') {
    throw invalid(`${field}.compression`, `must be null or gzip, got '${String(o.compression)}'`);
  }
  return {
    format: oneOf(o.format, `${field}.format`, ['json', 'yaml'] as const) ?? 'json',
    destination: str(o.destination, `${field}.destination`) ?? null,
    compression: compression ? null : 'gzip',
  };
}

export interface ProfileRequest {
  image: ImageSpec;
  profiles: ProfileName[];
  options: ProfileOptions;
  output: OutputSpec;
  includeRemediation: boolean;
}

export function validateProfilePayload(data: unknown): ProfileRequest {
  const d = obj(data, 'payload.data', true) as Obj;
  const image = parseImageSpec(d.image, 'payload.data.image');
  let profiles: ProfileName[] = [...PROFILE_NAMES];
  if (d.profiles !== undefined) {
    if (!Array.isArray(d.profiles) || d.profiles.length === 0) {
      throw invalid('payload.data.profiles', `must be a non-empty list of ${PROFILE_NAMES.join(', ')}`);
    }
    const names = d.profiles.map(
      (p, i) => oneOf(p, `payload.data.profiles[${i}]`, PROFILE_NAMES, true) as ProfileName,
    );
    profiles = [...new Set(names)];
  }
  const options = obj(d.options, 'payload.data.options') ?? {};
  const output = obj(d.output, 'payload.data.output') ?? {};
  const threshold: Severity =
    oneOf(options.severity_threshold, 'payload.data.options.severity_threshold', SEVERITIES) ?? 'info';
  return {
    image,
    profiles,
    options: {
      severity_threshold: threshold,
      fail_on_critical: bool(options.fail_on_critical, 'payload.data.options.fail_on_critical', false),
    },
    output: parseOutput(output, 'payload.data.output'),
    // Accepted in either block: older clients put it under options.
    includeRemediation: bool(
      output.include_remediation ?? options.include_remediation,
      'payload.data.output.include_remediation',
      true,
    ),
  };
}

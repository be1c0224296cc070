// guestkit.fix.v1 payload:
// {image: {path, format, checksum, read_only, create_backup, backup_path},
//  operations: [{type, options}], execution_policy: {stop_on_error, validate_before_commit},
//  output: {fixed_image, fixed_image_format, log_path, report_format}}
import { ValidationError } from '../../protocol/errors.js';
import { CONVERT_FORMATS } from '../../tools/qemu-img.js';
import { bool, checksum, invalid, obj, oneOf, str, type Obj } from '../payload-fields.js';
import type { FixOperationRegistry } from './operations.js';

export interface FixStep {
  type: string;
  /** As returned by the operation's validateOptions. */
  options: unknown;
}

export interface FixRequest {
  image: {
    path: string;
    format?: string;
    checksum?: string;
    readOnly: boolean;
    createBackup: boolean;
    backupPath?: string;
  };
  operations: FixStep[];
  stopOnError: boolean;
  validateBeforeCommit: boolean;
  output: {
    fixedImage?: string;
    /** Default: the image's own format. */
    fixedImageFormat?: string;
    logPath?: string;
    reportFormat: 'json' | 'yaml';
  };
}

export function validateFixPayload(data: unknown, registry: FixOperationRegistry): FixRequest {
  const d = obj(data, 'payload.data', true) as Obj;
  const img = obj(d.image, 'payload.data.image', true) as Obj;
  const format = oneOf(img.format, 'payload.data.image.format', [...CONVERT_FORMATS, 'img']);
  const sum = checksum(img.checksum, 'payload.data.image.checksum');
  const backupPath = str(img.backup_path, 'payload.data.image.backup_path');
  const image: FixRequest['image'] = {
    path: str(img.path, 'payload.data.image.path', true) as string,
    ...(format ? { format } : {}),
    ...(sum ? { checksum: sum } : {}),
    readOnly: bool(img.read_only, 'payload.data.image.read_only', false),
    // A backup path given means a backup is wanted.
    createBackup: bool(img.create_backup, 'payload.data.image.create_backup', backupPath !== undefined),
    ...(backupPath ? { backupPath } : {}),
  };
  if (backupPath && !image.createBackup) {
    throw invalid('payload.data.image.backup_path', 'is given but create_backup is false');
  }

  if (!Array.isArray(d.operations) || d.operations.length === 0) {
    throw new ValidationError(
      `Missing required field: payload.data.operations (a non-empty list of {type, options}; known types: ${registry.types().join(', ')})`,
    );
  }
  const operations = d.operations.map((raw: unknown, i): FixStep => {
    const field = `payload.data.operations[${i}]`;
    const o = obj(raw, field, true) as Obj;
    const type = str(o.type, `${field}.type`, true) as string;
    const op = registry.get(type);
    if (!op)
      throw invalid(
        `${field}.type`,
        `unknown fix operation '${type}' (known: ${registry.types().join(', ')})`,
      );
    return {
      type,
      options: op.validateOptions(obj(o.options, `${field}.options`) ?? {}, `${field}.options`),
    };
  });

  const policy = obj(d.execution_policy, 'payload.data.execution_policy') ?? {};
  const out = obj(d.output, 'payload.data.output') ?? {};
  const fixedImage = str(out.fixed_image, 'payload.data.output.fixed_image');
  const fixedImageFormat = oneOf(
    out.fixed_image_format,
    'payload.data.output.fixed_image_format',
    CONVERT_FORMATS,
  );
  if (fixedImageFormat && !fixedImage) {
    throw invalid('payload.data.output.fixed_image_format', 'needs output.fixed_image');
  }
  if (image.readOnly && !fixedImage) {
    throw new ValidationError(
      'Invalid field value: payload.data.image.read_only - the image is read-only, so guestkit.fix cannot ' +
        'commit into it; give output.fixed_image to write the fixed copy there instead',
    );
  }
  const logPath = str(out.log_path, 'payload.data.output.log_path');
  return {
    image,
    operations,
    stopOnError: bool(policy.stop_on_error, 'payload.data.execution_policy.stop_on_error', true),
    validateBeforeCommit: bool(
      policy.validate_before_commit,
      'payload.data.execution_policy.validate_before_commit',
      true,
    ),
    output: {
      ...(fixedImage ? { fixedImage } : {}),
      ...(fixedImageFormat ? { fixedImageFormat } : {}),
      ...(logPath ? { logPath } : {}),
      reportFormat: oneOf(out.report_format, 'payload.data.output.report_format', ['json', 'yaml']) ?? 'json',
    },
  };
}

// guestkit.convert.v1 payloads, in both shapes clients send:
//   current: {source: {path, format, checksum}, target: {path, format, compression, compression_type},
//             options: {verify_after_convert, preserve_sparse}}
//   older flat form: {image: {path, format, checksum}, target_format, compression, compression_type?}
//             (the target path is derived next to the source).
import { ValidationError } from '../../protocol/errors.js';
import { CONVERT_FORMATS, type CompressionType, type ConvertFormat } from '../../tools/qemu-img.js';
import { bool, checksum, invalid, obj, oneOf, str, type Obj } from '../payload-fields.js';

/** Source formats accepted (`img` means raw). */
const SOURCE_FORMATS = [...CONVERT_FORMATS, 'img'] as const;
const COMPRESSION_TYPES: readonly CompressionType[] = ['zlib', 'zstd'];

export interface ConvertRequest {
  form: 'v1' | 'flat';
  source: { path: string; format?: string; checksum?: string };
  /** `path` is absent in the flat form: derived at run time next to the source. */
  target: {
    path?: string;
    format: ConvertFormat;
    compression: boolean;
    compressionType?: CompressionType;
  };
  verify: boolean;
  preserveSparse: boolean;
}

function source(o: Obj, field: string): ConvertRequest['source'] {
  const path = str(o.path, `${field}.path`, true) as string;
  if (o.format === 'ova' || o.format === 'OVA') {
    throw invalid(`${field}.format`, 'ova archives are not disk images; extract the disk (vmdk) first');
  }
  const format = oneOf(o.format, `${field}.format`, SOURCE_FORMATS);
  const sum = checksum(o.checksum, `${field}.checksum`);
  return { path, ...(format ? { format } : {}), ...(sum ? { checksum: sum } : {}) };
}

function compression(
  format: ConvertFormat,
  compress: boolean,
  type: CompressionType | undefined,
  field: string,
): Pick<ConvertRequest['target'], 'compression' | 'compressionType'> {
  if ((compress || type) && format !== 'qcow2') {
    throw invalid(field, `compression is supported for qcow2 targets only, not ${format}`);
  }
  if (type && !compress) throw invalid(`${field}_type`, 'needs compression: true');
  return { compression: compress, ...(compress ? { compressionType: type ?? 'zlib' } : {}) };
}

export function validateConvertPayload(data: unknown): ConvertRequest {
  const d = obj(data, 'payload.data', true) as Obj;
  if (d.source !== undefined || d.target !== undefined) {
    const src = source(obj(d.source, 'payload.data.source', true) as Obj, 'payload.data.source');
    const t = obj(d.target, 'payload.data.target', true) as Obj;
    const format = oneOf(t.format, 'payload.data.target.format', CONVERT_FORMATS, true) as ConvertFormat;
    const options = obj(d.options, 'payload.data.options') ?? {};
    return {
      form: 'v1',
      source: src,
      target: {
        path: str(t.path, 'payload.data.target.path', true) as string,
        format,
        ...compression(
          format,
          bool(t.compression, 'payload.data.target.compression', false),
          oneOf(t.compression_type, 'payload.data.target.compression_type', COMPRESSION_TYPES),
          'payload.data.target.compression',
        ),
      },
      verify: bool(options.verify_after_convert, 'payload.data.options.verify_after_convert', true),
      preserveSparse: bool(options.preserve_sparse, 'payload.data.options.preserve_sparse', true),
    };
  }
  if (d.image === undefined) {
    throw new ValidationError(
      'Missing required field: payload.data.source (or payload.data.image with target_format)',
    );
  }
  const src = source(obj(d.image, 'payload.data.image', true) as Obj, 'payload.data.image');
  const format = oneOf(d.target_format, 'payload.data.target_format', CONVERT_FORMATS, true) as ConvertFormat;
  return {
    form: 'flat',
    source: src,
    target: {
      format,
      ...compression(
        format,
        bool(d.compression, 'payload.data.compression', false),
        oneOf(d.compression_type, 'payload.data.compression_type', COMPRESSION_TYPES),
        'payload.data.compression',
      ),
    },
    verify: bool(d.verify_after_convert, 'payload.data.verify_after_convert', true),
    preserveSparse: bool(d.preserve_sparse, 'payload.data.preserve_sparse', true),
  };
}

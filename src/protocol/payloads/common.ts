// Building blocks of the payload schemas: strings as the validators accept them, the image and
// output blocks shared by most operations, and a helper for the many "absent or null" fields.
// Pure TypeBox, no Node imports: the dashboard bundles this module for its forms.
import { Type, type SchemaOptions, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { DISK_FORMATS } from '../vocabulary.js';

/** A string enum as plain JSON Schema `enum` (OpenAPI 3.0 has no `const`), typed as the union. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** Absent or null means "use the default" for most payload fields. */
export function Nullable<T extends TSchema>(schema: T, options: SchemaOptions = {}) {
  return Type.Optional(Type.Union([schema, Type.Null()], options));
}

/** Formats qemu-img converts to (and guestkit.fix writes). */
export const CONVERT_FORMATS = DISK_FORMATS;
/** Formats an image block may name (`img` = raw). `ova` is refused: it is an archive. */
export const IMAGE_FORMATS = [...DISK_FORMATS, 'img'] as const;
export const REPORT_FORMATS = ['json', 'yaml'] as const;

/** A path: not blank, no NUL byte. Paths are resolved and confined when the job runs. */
export const PathSchema = Type.String({
  pattern: '^[^\\u0000]*\\S[^\\u0000]*$',
  description: 'Absolute path on the worker (inside its allowed roots)',
});

/** `sha256:<hex>` or bare hex (the validators also accept upper case and surrounding blanks). */
export const ChecksumSchema = Type.String({
  pattern: '^(sha256:)?[0-9a-fA-F]{64}$',
  description: 'SHA-256 of the image file, `sha256:<64 hex digits>`; verified before the job reads it',
});

/** The image block of inspect, profile, compare and the migration operations. */
export const ImageSchema = Type.Object(
  {
    path: PathSchema,
    format: Nullable(StringEnum(IMAGE_FORMATS, { description: 'Omitted: detected by qemu-img' })),
    checksum: Nullable(ChecksumSchema),
    size_bytes: Nullable(Type.Integer({ minimum: 0, description: 'Informational' })),
    read_only: Type.Optional(Type.Boolean({ description: 'Jobs that only read ignore it' })),
  },
  { description: 'A disk image' },
);

/** The output block of inspect and profile: where the report file goes. */
export const OutputSchema = Type.Object(
  {
    format: Nullable(StringEnum(REPORT_FORMATS, { default: 'json' })),
    destination: Nullable(PathSchema, { description: 'Omitted: the report is only in the result' }),
    compression: Nullable(StringEnum(['gzip'] as const), { description: 'null (default) or gzip' }),
  },
  { description: 'Report file' },
);

/** Options every appliance-using operation accepts. */
export const IsolatedAppliance = Nullable(
  Type.Boolean({ description: 'Never share an appliance with other jobs (untrusted tenants)' }),
);

/** Boolean option with its default in the schema (absent or null = default). */
export function Flag(defaultValue: boolean, description?: string) {
  return Nullable(Type.Boolean({ default: defaultValue, ...(description ? { description } : {}) }));
}

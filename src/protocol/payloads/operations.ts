// payload.data schemas of the other operations (fix has its own file). Objects stay open: the
// handlers ignore fields they do not know, as the original worker did.
import { Type } from '@sinclair/typebox';
import {
  ChecksumSchema,
  CONVERT_FORMATS,
  Flag,
  IMAGE_FORMATS,
  ImageSchema,
  IsolatedAppliance,
  Nullable,
  OutputSchema,
  PathSchema,
  REPORT_FORMATS,
  StringEnum,
} from './common.js';

export const ECHO_MAX_SLEEP_MS = 60_000;

/** system.echo / test.echo: any data; `sleep_ms` holds the job in `running`. */
export const EchoPayloadSchema = Type.Unknown({
  description:
    'Any JSON value, echoed back. In an object, `sleep_ms` (integer 0–60000) holds the job in running first.',
  if: { type: 'object', required: ['sleep_ms'] },
  then: { properties: { sleep_ms: { type: 'integer', minimum: 0, maximum: ECHO_MAX_SLEEP_MS } } },
});

export const InspectOptionsSchema = Type.Object({
  deep_scan: Flag(false),
  include_packages: Flag(true),
  include_services: Flag(true),
  include_users: Flag(true),
  include_network: Flag(true),
  include_security: Flag(true),
  include_storage: Flag(true),
  include_databases: Flag(true),
  isolated_appliance: IsolatedAppliance,
});

export const InspectPayloadSchema = Type.Object(
  {
    image: ImageSchema,
    options: Nullable(InspectOptionsSchema),
    output: Nullable(OutputSchema),
  },
  { description: 'guestkit.inspect.v1' },
);

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export const PROFILE_NAMES = ['security', 'compliance', 'hardening', 'performance', 'migration'] as const;

export const ProfilePayloadSchema = Type.Object(
  {
    image: ImageSchema,
    profiles: Type.Optional(
      Type.Array(StringEnum(PROFILE_NAMES), { minItems: 1, description: 'Default: every profile' }),
    ),
    options: Nullable(
      Type.Object({
        severity_threshold: Nullable(StringEnum(SEVERITIES, { default: 'info' })),
        fail_on_critical: Flag(false, 'A critical finding fails the job (the report is still written)'),
        include_remediation: Flag(true, 'Older clients put it here; output.include_remediation wins'),
        isolated_appliance: IsolatedAppliance,
      }),
    ),
    output: Nullable(Type.Composite([OutputSchema, Type.Object({ include_remediation: Flag(true) })])),
  },
  { description: 'guestkit.profile.v1' },
);

export const ComparePayloadSchema = Type.Object(
  {
    baseline: ImageSchema,
    target: ImageSchema,
    options: Nullable(
      Type.Object({
        compare_packages: Flag(true),
        compare_files: Flag(false),
        compare_config: Flag(true),
        ignore_timestamps: Flag(true),
        recommendations: Flag(false),
        isolated_appliance: IsolatedAppliance,
      }),
    ),
    recommendations: Flag(false, 'Older place of options.recommendations'),
    output: Nullable(OutputSchema),
  },
  { description: 'guestkit.compare.v1' },
);

const COMPRESSION_TYPES = ['zlib', 'zstd'] as const;
/** qemu-img compresses qcow2 only; compression_type needs compression: true. */
function compressionRules(format: string, compression: string, type: string) {
  return [
    {
      if: { required: [compression], properties: { [compression]: { const: true } } },
      then: { properties: { [format]: { const: 'qcow2' } } },
    },
    {
      if: { required: [type], properties: { [type]: { type: 'string' } } },
      then: { required: [compression], properties: { [compression]: { const: true } } },
    },
  ];
}

const ConvertSourceSchema = Type.Object({
  path: PathSchema,
  format: Nullable(StringEnum(IMAGE_FORMATS, { description: 'Omitted: detected' })),
  checksum: Nullable(ChecksumSchema),
});

export const ConvertPayloadSchema = Type.Union(
  [
    Type.Object(
      {
        source: ConvertSourceSchema,
        target: Type.Object(
          {
            path: PathSchema,
            format: StringEnum(CONVERT_FORMATS),
            compression: Flag(false, 'qcow2 targets only'),
            compression_type: Nullable(StringEnum(COMPRESSION_TYPES, { default: 'zlib' })),
          },
          { allOf: compressionRules('format', 'compression', 'compression_type') },
        ),
        options: Nullable(
          Type.Object({
            verify_after_convert: Flag(true, 'qemu-img compare after the conversion'),
            preserve_sparse: Flag(true),
          }),
        ),
      },
      { title: 'guestkit.convert.v1', description: 'Current form' },
    ),
    Type.Object(
      {
        image: ConvertSourceSchema,
        target_format: StringEnum(CONVERT_FORMATS),
        compression: Flag(false),
        compression_type: Nullable(StringEnum(COMPRESSION_TYPES)),
        verify_after_convert: Flag(true),
        preserve_sparse: Flag(true),
      },
      {
        title: 'guestkit.convert.v1 (older flat form)',
        description: 'The target is written next to the source',
        not: { anyOf: [{ required: ['source'] }, { required: ['target'] }] },
        allOf: compressionRules('target_format', 'compression', 'compression_type'),
      },
    ),
  ],
  { description: 'guestkit.convert.v1' },
);

export const MIGRATION_TARGETS = [
  'kvm',
  'kubevirt',
  'proxmox',
  'qemu',
  'hyperv',
  'aws',
  'azure',
  'gcp',
] as const;

const doctorFields = {
  image: ImageSchema,
  target: Nullable(StringEnum(MIGRATION_TARGETS, { default: 'kubevirt' })),
  explain: Flag(false, 'Add the root cause of the verdict'),
  options: Nullable(Type.Object({ isolated_appliance: IsolatedAppliance })),
};

export const DoctorPayloadSchema = Type.Object(doctorFields, { description: 'guestkit.doctor.v1' });

export const MigratePlanPayloadSchema = Type.Object(
  {
    ...doctorFields,
    export_fix_plan: Flag(false, 'Write the plan to a file (implied by output.destination)'),
    output: Nullable(
      Type.Object({
        destination: Nullable(PathSchema),
        format: Nullable(
          StringEnum(REPORT_FORMATS, { description: 'Default: from the extension, else yaml' }),
        ),
      }),
    ),
  },
  { description: 'guestkit.migrate-plan.v1' },
);

export const RepairPayloadSchema = Type.Object(
  {
    ...doctorFields,
    fix: Nullable(StringEnum(['boot'] as const, { default: 'boot' })),
    dry_run: Flag(true, 'Only plan and predict the score'),
    min_score: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: 'Commit only when doctor then scores this' }),
    ),
    output: Nullable(Type.Object({ fixed_image: Nullable(PathSchema) })),
  },
  {
    description: 'guestkit.repair.v1',
    // A read-only image can only be repaired into a copy.
    if: {
      required: ['dry_run', 'image'],
      properties: {
        dry_run: { const: false },
        image: { required: ['read_only'], properties: { read_only: { const: true } } },
      },
    },
    then: {
      required: ['output'],
      properties: {
        output: {
          type: 'object',
          required: ['fixed_image'],
          properties: { fixed_image: { type: 'string' } },
        },
      },
    },
  },
);

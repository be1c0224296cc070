// Per-operation `payload.data` schemas, defined once (TypeBox): the OpenAPI document's submit body
// (/docs), the payload types of the typed builders and result map (types.ts), and the dashboard's
// submit forms, which another module generates from OPERATION_PAYLOADS — keep these export names
// stable. Pure TypeBox, no Node imports (the dashboard bundles it).
// The handlers' hand-written validators stay the source of the precise error messages; the unit
// test test/unit/payload-schemas.test.ts proves the two agree (a schema may be stricter: it
// documents the canonical form, e.g. lower-case enum values, that the validators normalise to).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { EnvelopeSchema, JOB_KIND, PROTOCOL_VERSION } from '../schema.js';
import { FixPayloadSchema } from './fix.js';
import {
  ComparePayloadSchema,
  ConvertPayloadSchema,
  DoctorPayloadSchema,
  EchoPayloadSchema,
  InspectPayloadSchema,
  MigratePlanPayloadSchema,
  ProfilePayloadSchema,
  RepairPayloadSchema,
} from './operations.js';

export * from './common.js';
export * from './fix.js';
export * from './operations.js';

const image = { path: '/var/lib/guestkit/images/web-01.qcow2', format: 'qcow2' } as const;

/** Every bundled operation: its payload type, the schema of `payload.data` and an example. */
export const OPERATION_PAYLOADS = {
  'system.echo': {
    payloadType: 'system.echo.v1',
    summary: 'Echo the data back (tests, health checks)',
    schema: EchoPayloadSchema,
    example: { message: 'hello', sleep_ms: 0 },
  },
  'test.echo': {
    payloadType: 'test.echo.v1',
    summary: 'Echo (older name)',
    schema: EchoPayloadSchema,
    example: { message: 'hello' },
  },
  'guestkit.inspect': {
    payloadType: 'guestkit.inspect.v1',
    summary: 'Inspect a disk image: OS, packages, services, users, network, security, storage',
    schema: InspectPayloadSchema,
    example: {
      image: { ...image, checksum: `sha256:${'e3b0c442'.repeat(8)}`, read_only: true },
      options: { deep_scan: false, include_packages: true, include_databases: false },
      output: { format: 'json', destination: '/var/lib/guestkit/results/web-01.json', compression: null },
    },
  },
  'guestkit.profile': {
    payloadType: 'guestkit.profile.v1',
    summary: 'Security, compliance, hardening, performance and migration findings',
    schema: ProfilePayloadSchema,
    example: {
      image,
      profiles: ['security', 'compliance'],
      options: { severity_threshold: 'medium', fail_on_critical: false },
      output: { format: 'json', include_remediation: true },
    },
  },
  'guestkit.compare': {
    payloadType: 'guestkit.compare.v1',
    summary: 'Differences between two images (OS, packages, services, users, /etc)',
    schema: ComparePayloadSchema,
    example: {
      baseline: image,
      target: { path: '/var/lib/guestkit/images/web-01-patched.qcow2', format: 'qcow2' },
      options: { compare_packages: true, compare_config: true, recommendations: true },
    },
  },
  'guestkit.convert': {
    payloadType: 'guestkit.convert.v1',
    summary: 'Convert an image to another format with qemu-img (never overwrites)',
    schema: ConvertPayloadSchema,
    example: {
      source: image,
      target: {
        path: '/var/lib/guestkit/images/web-01.raw',
        format: 'raw',
        compression: false,
      },
      options: { verify_after_convert: true, preserve_sparse: true },
    },
  },
  'guestkit.fix': {
    payloadType: 'guestkit.fix.v1',
    summary: 'Offline repairs through an overlay, committed only when all pass',
    schema: FixPayloadSchema,
    example: {
      image: { ...image, create_backup: true },
      operations: [
        { type: 'fsck', options: { auto_repair: true } },
        { type: 'set_hostname', options: { hostname: 'web-01' } },
        { type: 'reset_machine_id' },
      ],
      execution_policy: { stop_on_error: true, validate_before_commit: true },
      output: { report_format: 'json' },
    },
  },
  'guestkit.doctor': {
    payloadType: 'guestkit.doctor.v1',
    summary: 'Will this guest boot on the target? Score, verdict, blockers',
    schema: DoctorPayloadSchema,
    example: { image, target: 'kubevirt', explain: true },
  },
  'guestkit.migrate-plan': {
    payloadType: 'guestkit.migrate-plan.v1',
    summary: 'The fix plan that makes the guest ready for the target',
    schema: MigratePlanPayloadSchema,
    example: { image, target: 'proxmox', export_fix_plan: true, output: { format: 'yaml' } },
  },
  'guestkit.repair': {
    payloadType: 'guestkit.repair.v1',
    summary: "Runs the plan's steps through guestkit.fix (dry run by default)",
    schema: RepairPayloadSchema,
    example: { image, fix: 'boot', target: 'kvm', dry_run: true },
  },
} as const satisfies Record<
  string,
  { payloadType: string; summary: string; schema: TSchema; example: unknown }
>;

/** Names of the bundled operations. */
export type OperationName = keyof typeof OPERATION_PAYLOADS;
export const OPERATION_NAMES = Object.keys(OPERATION_PAYLOADS) as OperationName[];

/** `payload.data` of an operation, as a client writes it. */
export type PayloadOf<Op extends OperationName> = Static<(typeof OPERATION_PAYLOADS)[Op]['schema']>;

const { operation: _operation, payload: _payload, ...envelopeRest } = EnvelopeSchema.properties;

/** The envelope of one operation: `operation` and `payload.type` fixed, `payload.data` its schema. */
function envelopeOf(op: OperationName) {
  const p = OPERATION_PAYLOADS[op];
  return Type.Object(
    {
      ...envelopeRest,
      operation: Type.Unsafe<string>({ type: 'string', enum: [op] }),
      payload: Type.Object({
        type: Type.Unsafe<string>({ type: 'string', enum: [p.payloadType] }),
        data: p.schema,
      }),
    },
    { title: op, description: p.summary },
  );
}

/**
 * The submit route's body in the OpenAPI document: one envelope per operation (chosen by
 * `operation`), with a full example each. Documentation only: submissions are validated by the
 * protocol rules and the handlers' validators.
 */
export const SubmitBodySchema = Type.Union(
  OPERATION_NAMES.map((op) => envelopeOf(op)),
  {
    description: 'A Job Protocol v1 envelope; `payload.data` depends on `operation`',
    'x-examples': Object.fromEntries(
      OPERATION_NAMES.map((op) => [
        op,
        {
          summary: OPERATION_PAYLOADS[op].summary,
          value: exampleEnvelope(op),
        },
      ]),
    ),
  },
);

/** A complete envelope for an operation's example payload (docs, dashboard templates). */
export function exampleEnvelope(op: OperationName): Record<string, unknown> {
  return {
    version: PROTOCOL_VERSION,
    job_id: `example-${op.replace(/\./g, '-')}-001`,
    created_at: '2026-01-01T00:00:00Z',
    kind: JOB_KIND,
    operation: op,
    payload: { type: OPERATION_PAYLOADS[op].payloadType, data: OPERATION_PAYLOADS[op].example },
    execution: { timeout_seconds: 3600, priority: 5 },
  };
}

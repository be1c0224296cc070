// guestkit.fix.v1: the image (with backup settings), the operations and their options, the
// policy and where the fixed image and the log go. Cross-field rules the handler enforces are
// written as JSON Schema `not`/`if` clauses so a JSON Schema validator refuses what it refuses.
import { Type } from '@sinclair/typebox';
import {
  ChecksumSchema,
  CONVERT_FORMATS,
  Flag,
  IMAGE_FORMATS,
  Nullable,
  PathSchema,
  REPORT_FORMATS,
  StringEnum,
} from './common.js';

/** Kernel module names (initramfs_add_drivers). */
export const DRIVER_PATTERN = '^[a-z0-9_-]{1,64}$';
/** Kernel command-line arguments (bootloader_cmdline). */
export const KERNEL_ARG_PATTERN = '^[A-Za-z0-9_.,:=/@+-]{1,128}$';
/** systemd unit names (service_enable / service_disable). */
export const UNIT_PATTERN = '^[A-Za-z0-9@_.:-]{1,128}\\.(service|socket|timer|path|target)$';
/** One DNS label of a host name. */
export const HOSTNAME_LABEL_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const HOSTNAME_PATTERN =
  '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';

const NoOptions = Nullable(Type.Object({}, { description: 'No options' }));

function op<T extends string>(type: T, description: string) {
  return Type.Object({ type: StringEnum([type] as const), options: NoOptions }, { description });
}

const Units = Type.Object({
  units: Type.Array(Type.String({ pattern: UNIT_PATTERN }), { minItems: 1 }),
});

/** One schema per bundled fix operation, keyed by its `type`. */
export const FIX_OPERATION_SCHEMAS = {
  fsck: Type.Object(
    {
      type: StringEnum(['fsck'] as const),
      options: Nullable(
        Type.Object(
          {
            auto_repair: Flag(true, 'Repair what is found (e2fsck -p / xfs_repair)'),
            force_all: Flag(false, 'Answer yes to every question (needs auto_repair)'),
          },
          {
            not: {
              required: ['auto_repair', 'force_all'],
              properties: { auto_repair: { const: false }, force_all: { const: true } },
            },
          },
        ),
      ),
    },
    { description: 'Checks (and repairs) every filesystem' },
  ),
  selinux_relabel: op('selinux_relabel', "Relabels every file with the guest's SELinux policy"),
  initramfs_regenerate: op('initramfs_regenerate', "Rebuilds each kernel's initramfs with the guest's tool"),
  set_hostname: Type.Object(
    {
      type: StringEnum(['set_hostname'] as const),
      options: Type.Object({
        hostname: Type.String({ pattern: HOSTNAME_PATTERN, maxLength: 64 }),
      }),
    },
    { description: 'Writes /etc/hostname' },
  ),
  reset_machine_id: op('reset_machine_id', 'Empties /etc/machine-id'),
  initramfs_add_drivers: Type.Object(
    {
      type: StringEnum(['initramfs_add_drivers'] as const),
      options: Type.Object({
        drivers: Type.Array(Type.String({ pattern: DRIVER_PATTERN }), { minItems: 1 }),
      }),
    },
    { description: "Adds kernel drivers to each kernel's initramfs" },
  ),
  bootloader_cmdline: Type.Object(
    {
      type: StringEnum(['bootloader_cmdline'] as const),
      options: Type.Object(
        {
          root: Nullable(StringEnum(['uuid'] as const, { description: 'Set root=UUID=' })),
          add: Nullable(Type.Array(Type.String({ pattern: KERNEL_ARG_PATTERN }))),
        },
        {
          description: 'Needs root or a non-empty add',
          anyOf: [
            { required: ['root'], properties: { root: { type: 'string' } } },
            { required: ['add'], properties: { add: { type: 'array', minItems: 1 } } },
          ],
        },
      ),
    },
    { description: 'Sets root=UUID= and adds kernel arguments in every boot loader entry' },
  ),
  selinux_autorelabel: op('selinux_autorelabel', 'Creates /.autorelabel'),
  fstab_stable_names: op('fstab_stable_names', 'Rewrites /dev/sdX entries of /etc/fstab to UUID='),
  network_portable: op('network_portable', 'Removes MAC bindings, renames interfaces to eth<N>'),
  service_disable: Type.Object(
    { type: StringEnum(['service_disable'] as const), options: Units },
    { description: 'Disables systemd units' },
  ),
  service_enable: Type.Object(
    { type: StringEnum(['service_enable'] as const), options: Units },
    { description: 'Enables systemd units for multi-user.target' },
  ),
};
export type FixOperationType = keyof typeof FIX_OPERATION_SCHEMAS;

export const FixOperationSchema = Type.Union(Object.values(FIX_OPERATION_SCHEMAS));

export const FixPayloadSchema = Type.Object(
  {
    image: Type.Object(
      {
        path: PathSchema,
        format: Nullable(StringEnum(IMAGE_FORMATS)),
        checksum: Nullable(ChecksumSchema),
        read_only: Flag(false, 'The image must not change: needs output.fixed_image'),
        create_backup: Nullable(Type.Boolean({ description: 'Default: true when backup_path is given' })),
        backup_path: Nullable(PathSchema),
      },
      {
        not: {
          required: ['backup_path', 'create_backup'],
          properties: { backup_path: { type: 'string' }, create_backup: { const: false } },
        },
      },
    ),
    operations: Type.Array(FixOperationSchema, { minItems: 1 }),
    execution_policy: Nullable(
      Type.Object({
        stop_on_error: Flag(true),
        validate_before_commit: Flag(true, 'Re-inspect before committing the overlay'),
      }),
    ),
    output: Nullable(
      Type.Object(
        {
          fixed_image: Nullable(PathSchema, { description: 'Write the fixed copy here, not into the image' }),
          fixed_image_format: Nullable(StringEnum(CONVERT_FORMATS), { description: 'Needs fixed_image' }),
          log_path: Nullable(PathSchema),
          report_format: Nullable(StringEnum(REPORT_FORMATS)),
        },
        {
          if: { required: ['fixed_image_format'], properties: { fixed_image_format: { type: 'string' } } },
          then: { required: ['fixed_image'], properties: { fixed_image: { type: 'string' } } },
        },
      ),
    ),
  },
  {
    description: 'guestkit.fix.v1',
    if: {
      required: ['image'],
      properties: { image: { required: ['read_only'], properties: { read_only: { const: true } } } },
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

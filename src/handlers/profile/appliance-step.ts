// The steps profile and compare share before and around the appliance: resolve and verify each
// image, queue on the worker's shared appliance pool (batched with other jobs), map pool stages
// to progress events, and describe each drive for the report's `image` block.
import { stat } from 'node:fs/promises';
import { getSharedAppliancePool, type ApplianceLease, type ProbedDrive } from '../../../lib/appliance.js';
import { HandlerError } from '../../protocol/errors.js';
import { resolveAllowedPath } from '../../worker/paths.js';
import { verifyImageChecksum } from '../image.js';
import type { ImageInfo } from '../inspect/report.js';
import type { HandlerContext } from '../types.js';
import type { ImageSpec } from './payload.js';

export interface PreparedInput {
  spec: ImageSpec;
  /** Real path inside the allowed roots. */
  path: string;
  field: string;
  sizeBytes: number;
  checksumVerified: boolean;
}

/** Allowed path, existing file, checksum (native hasher) — in the protocol's order. */
export async function prepareInput(
  ctx: HandlerContext<unknown>,
  spec: ImageSpec,
  field: string,
): Promise<PreparedInput> {
  const path = await resolveAllowedPath(spec.path, ctx.config.allowedRoots, {
    kind: 'file',
    field: `${field}.path`,
  });
  const checksumVerified = await verifyImageChecksum(ctx, path, spec.checksum);
  return { spec, path, field, sizeBytes: (await stat(path)).size, checksumVerified };
}

export function imageInfo(input: PreparedInput, drive: ProbedDrive | undefined): ImageInfo {
  return {
    path: input.path,
    format: drive?.format ?? input.spec.format ?? 'raw',
    size_bytes: input.sizeBytes,
    virtual_size_bytes: drive?.virtualSizeBytes ?? 0,
    ...(input.checksumVerified && input.spec.checksum ? { checksum: `sha256:${input.spec.checksum}` } : {}),
  };
}

export function noOperatingSystem(input: PreparedInput): HandlerError {
  return new HandlerError(
    'NO_OPERATING_SYSTEM',
    `No operating system found on ${input.spec.path} (${input.field}): libguestfs inspection found no root filesystem`,
    { phase: 'os_detection', details: { path: input.path } },
  );
}

/**
 * Runs `fn` with all `inputs` attached to one appliance of the shared pool (so compare sees both
 * disks together). Jobs of one namespace may share an appliance; other namespaces never do.
 */
export function runOnAppliance<T>(
  ctx: HandlerContext<unknown>,
  inputs: readonly PreparedInput[],
  fn: (lease: ApplianceLease) => Promise<T>,
): Promise<T> {
  ctx.progress('disk_attach', 5, 'Waiting for an appliance');
  return getSharedAppliancePool().run(
    inputs.map((i) => ({
      path: i.path,
      ...(i.spec.format ? { format: i.spec.format } : {}),
      readonly: true,
    })),
    fn,
    {
      signal: ctx.signal,
      group: `${ctx.config.pool}/${ctx.job.metadata?.namespace ?? 'default'}`,
      onStage: (stage) => {
        if (stage === 'launching') ctx.progress('disk_attach', 8, 'Launching the libguestfs appliance');
        if (stage === 'ready') ctx.progress('disk_attach', 20, 'Appliance ready; drives attached');
      },
    },
  );
}

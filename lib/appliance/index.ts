// The appliance pool: many drives per libguestfs launch, several launches in parallel. A newcomer
// reads pool.ts (batching and appliance life) first; the other files are one concern each.
export { AppliancePool } from './pool.js';
export { ApplianceError } from './errors.js';
export { DRIVE_FORMATS, probeImage } from './probe.js';
export {
  getSharedAppliancePool,
  configureSharedAppliancePool,
  closeSharedAppliancePool,
  closeSharedAppliancePoolIfIdle,
  sharedAppliancePoolStatus,
} from './shared.js';
export { diskOfDevice } from '../devices.js';
export type {
  ApplianceLease,
  ApplianceLaunchEvent,
  AppliancePoolOptions,
  AppliancePoolStatus,
  ApplianceStage,
  DriveRequest,
  ProbedDrive,
  ReserveOptions,
  RunOptions,
} from './types.js';

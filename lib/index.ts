// Public entry point of the embeddable library: `import { … } from 'guestkit-worker'`. It loads
// no worker code (the worker is 'guestkit-worker/worker') and no native code until first use:
// hashing loads the hashing addon, the first Guestfs handle loads the libguestfs binding.
export { PACKAGE_ROOT, libguestfsAvailability } from './native.js';
export {
  Guestfs,
  GuestfsError,
  GuestfsActions,
  GUESTFS_ACTIONS,
  type GuestfsOptions,
  type GuestfsOpenOptions,
  type GuestfsEventMap,
  type GuestfsEventName,
  type DriveSpec,
  type InspectedRoot,
  type GuestApplication,
} from './guestfs.js';
// Struct, options and raw types of every generated libguestfs action.
export type * from './generated/actions.js';
export {
  ChecksumFormatError,
  createSha256,
  parseChecksum,
  sha256File,
  SHA256_STRATEGIES,
  verifyFile,
  type Sha256,
  type Sha256FileOptions,
  type Sha256Strategy,
  type Sha256Progress,
  type VerifyResult,
} from './checksum.js';
// The library's coded error (ApplianceError is one): codes from the Job Protocol's vocabulary.
export {
  LibraryError,
  LIBRARY_ERROR_CODES,
  type LibraryErrorCode,
  type LibraryErrorOptions,
} from './errors.js';
// Appliance pool: many drives per libguestfs launch, several launches in parallel.
export {
  AppliancePool,
  ApplianceError,
  DRIVE_FORMATS,
  probeImage,
  getSharedAppliancePool,
  configureSharedAppliancePool,
  closeSharedAppliancePool,
  sharedAppliancePoolStatus,
  type ApplianceLease,
  type ApplianceLaunchEvent,
  type AppliancePoolOptions,
  type AppliancePoolStatus,
  type ApplianceStage,
  type DriveRequest,
  type ProbedDrive,
  type RunOptions,
} from './appliance/index.js';
// Fast Linux inspection: inspect_os' answers for the guests it knows, undefined for the others.
export {
  inspectLinux,
  installedApplications,
  osFacts,
  type OsFacts,
  type RootInspection,
} from './inspection/index.js';
// Initramfs images as the kernel unpacks them (early cpio + gzip/zstd/xz/lz4 streams).
export {
  readInitramfs,
  rebuildInitramfs,
  InitramfsDecodeError,
  type Initramfs,
  type InitramfsSegment,
  type ReadInitramfsOptions,
  type CpioEntry,
  type Compression,
} from './initramfs/index.js';
// Explore: browse, read, search and download the files of an image (read-only).
export {
  Explorer,
  ExploreError,
  EXPLORE_ERROR_CODES,
  DEFAULT_EXPLORER_LIMITS,
  looksBinary,
  splitGlob,
  type ExplorerOptions,
  type ExploreErrorCode,
  type Download,
  type EntryType,
  type ExploreEntry,
  type ExploreLayout,
  type ExplorerLimits,
  type FindOptions,
  type FindResult,
  type GrepMatch,
  type GrepOptions,
  type GrepResult,
  type Listing,
  type ListOptions,
  type ReadOptions,
  type ReadResult,
  type SortKey,
} from './explore/index.js';

// Public entry point of the embeddable library: `import { … } from 'guestkit-worker'`.
export { PACKAGE_ROOT } from './native.js';
export {
  ChecksumFormatError,
  createSha256,
  parseChecksum,
  sha256File,
  verifyFile,
  type Sha256,
  type Sha256FileOptions,
  type Sha256Progress,
  type VerifyResult,
} from './checksum.js';
// The worker, for embedding (full worker API: 'guestkit-worker/worker').
export { createWorker, registerHandler, JobBuilder } from '../src/index.js';

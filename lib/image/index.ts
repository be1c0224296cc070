// Image confinement for callers that hand images to qemu: formats, header reading, and chains
// opened, checked against allowed roots and pinned (see chain.ts).
export { IMAGE_FORMATS, isImageFormat, normaliseFormat, type ImageFormat } from './formats.js';
export { readImageHeader, parseVmdkDescriptor, type ImageHeader } from './headers.js';
export {
  openImageChain,
  hasProtocol,
  qemuRelative,
  realRoots,
  type ChainLayer,
  type OpenImageOptions,
  type PinnedFile,
  type PinnedImage,
} from './chain.js';
export { descriptorPath, isDescriptorPath } from './descriptor.js';

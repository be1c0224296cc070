// Explore: browse, read, search and download the files of a disk image (read-only).
export { Explorer, type ExplorerOptions, type Download } from './explorer.js';
export { ExploreError, EXPLORE_ERROR_CODES, type ExploreErrorCode } from './errors.js';
export { looksBinary } from './content.js';
export { guestPath, splitGlob } from './paths.js';
export * from './types.js';

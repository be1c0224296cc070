// Public entry point of the embeddable library: `import { … } from 'guestkit-worker'`.
export { PACKAGE_ROOT } from './native.js';

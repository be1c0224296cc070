// Public entry point of the worker: `import { createWorker } from 'guestkit-worker/worker'`.
export {};

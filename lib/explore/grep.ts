// Matching for grep on a worker thread: a pattern from a client may backtrack for minutes
// (`(a+)+$`), and the event loop must keep serving. The thread gets one file's bytes at a time
// and answers its matching lines; a search over its time budget terminates the thread.
import { Worker } from 'node:worker_threads';
import { ExploreError } from './errors.js';

/** Longest line text returned. */
export const GREP_LINE_CHARS = 512;

// CommonJS, evaluated by the worker (no file to resolve from src/ or dist/).
const MATCHER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const re = new RegExp(workerData.pattern, workerData.flags);
const decoder = new TextDecoder('utf-8');
parentPort.on('message', ({ id, bytes, max }) => {
  const lines = decoder.decode(bytes).split('\\n');
  const hits = [];
  for (let i = 0; i < lines.length && hits.length < max; i++) {
    if (i === lines.length - 1 && lines[i] === '') break;
    if (re.test(lines[i])) hits.push([i + 1, lines[i].slice(0, ${GREP_LINE_CHARS})]);
  }
  parentPort.postMessage({ id, hits });
});
`;

/** Checks `pattern` compiles as a JavaScript regular expression (on this thread: compiling is cheap). */
export function checkPattern(pattern: unknown, ignoreCase: boolean): string {
  if (typeof pattern !== 'string' || pattern === '' || pattern.length > 1000) {
    throw new ExploreError(
      'VALIDATION_ERROR',
      'Invalid pattern: give a regular expression of 1 to 1000 characters',
    );
  }
  try {
    new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (err) {
    throw new ExploreError('VALIDATION_ERROR', `Invalid pattern '${pattern}': ${(err as Error).message}`);
  }
  return pattern;
}

/** One search's matcher thread. `match` rejects with 'time' once the deadline passes. */
export class LineMatcher {
  readonly #worker: Worker;
  readonly #deadline: number;
  #next = 1;
  #dead = false;

  constructor(pattern: string, ignoreCase: boolean, budgetMs: number) {
    this.#worker = new Worker(MATCHER_SOURCE, {
      eval: true,
      workerData: { pattern, flags: ignoreCase ? 'i' : '' },
      resourceLimits: { maxOldGenerationSizeMb: 128 },
    });
    this.#worker.unref();
    this.#deadline = performance.now() + budgetMs;
  }

  get expired(): boolean {
    return this.#dead || performance.now() >= this.#deadline;
  }

  /** Matching lines of one file's bytes (at most `max`), or 'time' when the budget ran out. */
  match(bytes: Buffer, max: number): Promise<[number, string][] | 'time'> {
    if (this.expired) return Promise.resolve('time');
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const onMessage = (m: { id: number; hits: [number, string][] }) => {
        if (m.id !== id) return;
        done();
        resolve(m.hits);
      };
      const onError = (err: Error) => {
        done();
        reject(err);
      };
      const timer = setTimeout(
        () => {
          done();
          this.close();
          resolve('time');
        },
        Math.max(0, this.#deadline - performance.now()),
      );
      const done = () => {
        clearTimeout(timer);
        this.#worker.off('message', onMessage);
        this.#worker.off('error', onError);
      };
      this.#worker.on('message', onMessage);
      this.#worker.on('error', onError);
      this.#worker.postMessage({ id, bytes, max });
    });
  }

  close(): void {
    if (this.#dead) return;
    this.#dead = true;
    void this.#worker.terminate();
  }
}

// Decompression of one initramfs stream. gzip goes to zlib (async, in libuv's pool in small
// chunks); zstd, xz and legacy lz4 have pure-JS/WASM decoders (fzstd, xz-decompress, lz4js) that
// would hold the event loop for seconds on a real initramfs, so they run on a worker thread of
// their own. Every decoder stops past `maxBytes` (a hostile guest's decompression bomb).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { inflateRaw, type InputType, type ZlibOptions } from 'node:zlib';
import { gzipHeaderLength, type Compression } from './segments.js';

export class InitramfsDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitramfsDecodeError';
  }
}

interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

function inflateRawInfo(data: InputType, options: ZlibOptions): Promise<InflateInfo> {
  return new Promise((resolve, reject) =>
    // `info: true` makes zlib hand back the engine, whose bytesWritten is the input consumed.
    inflateRaw(data, { ...options, info: true } as ZlibOptions, (err, result) =>
      err ? reject(err) : resolve(result as unknown as InflateInfo),
    ),
  );
}

/** One gzip member at `offset`: its content and where it ends (header + deflate + 8-byte trailer). */
export async function gunzipMember(
  buf: Buffer,
  offset: number,
  maxBytes: number,
): Promise<{ data: Buffer; end: number }> {
  const header = gzipHeaderLength(buf, offset);
  if (header < 0) throw new InitramfsDecodeError(`malformed gzip header at byte ${offset}`);
  try {
    const { buffer, engine } = await inflateRawInfo(buf.subarray(offset + header), {
      maxOutputLength: maxBytes,
    });
    return { data: buffer, end: Math.min(buf.length, offset + header + engine.bytesWritten + 8) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
    throw new InitramfsDecodeError(`gzip stream at byte ${offset}: ${(err as Error).message}`);
  }
}

const tooLarge = (maxBytes: number) =>
  new InitramfsDecodeError(`decompresses to more than ${maxBytes} bytes; not read`);

// Plain CommonJS evaluated in the thread, so it runs the same from lib/ sources (tsx) and dist/.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fzstd = require(workerData.fzstd);
const lz4 = require(workerData.lz4js);
const { XzReadableStream } = require(workerData.xz);

function collector(max) {
  const chunks = [];
  let total = 0;
  return {
    push(chunk) {
      total += chunk.length;
      if (total > max) throw new Error('TOO_LARGE');
      chunks.push(chunk);
    },
    result() {
      return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.length)), total);
    },
  };
}

function zstd(data, out) {
  const d = new fzstd.Decompress((chunk) => out.push(chunk));
  const step = 1 << 20;
  for (let i = 0; i < data.length; i += step) d.push(data.subarray(i, i + step), i + step >= data.length);
}

function lz4Legacy(data, out) {
  const chunk = Buffer.alloc(8 << 20);
  let p = 4;
  while (p + 4 <= data.length) {
    const size = data.readUInt32LE(p);
    if (size === 0x184c2102) { p += 4; continue; }
    if (size === 0) break;
    p += 4;
    if (p + size > data.length) throw new Error('lz4 chunk runs past the end of the stream');
    const end = lz4.decompressBlock(data, chunk, p, size, 0);
    if (end < 0) throw new Error('corrupt lz4 chunk');
    out.push(Buffer.from(chunk.subarray(0, end)));
    p += size;
  }
}

async function xz(data, out) {
  const stream = new XzReadableStream(new Blob([data]).stream());
  for await (const chunk of stream) out.push(chunk);
}

parentPort.on('message', async ({ compression, data, max }) => {
  const buf = Buffer.from(data);
  const out = collector(max);
  try {
    if (compression === 'zstd') zstd(buf, out);
    else if (compression === 'lz4') lz4Legacy(buf, out);
    else if (compression === 'xz') await xz(buf, out);
    else throw new Error('no decoder for ' + compression);
    const result = out.result();
    const ab = result.buffer.slice(result.byteOffset, result.byteOffset + result.length);
    parentPort.postMessage({ data: ab }, [ab]);
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
});
`;

const require = createRequire(import.meta.url);

/**
 * Decodes one zstd, xz or legacy-lz4 stream (exactly its bytes) on a thread started for the
 * call; the thread ends with it, also on abort.
 */
export async function decodeOnThread(
  compression: Compression,
  stream: Buffer,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  signal?.throwIfAborted();
  const worker = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: {
      fzstd: require.resolve('fzstd'),
      lz4js: require.resolve('lz4js'),
      xz: require.resolve('xz-decompress'),
    },
  });
  const copy = new Uint8Array(stream).buffer; // a copy the thread owns
  const onAbort = () => void worker.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const reply = await new Promise<{ data?: ArrayBuffer; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new InitramfsDecodeError(`decoder thread exited (${code})`)));
      worker.postMessage({ compression, data: copy, max: maxBytes }, [copy]);
    });
    signal?.throwIfAborted();
    if (reply.error === 'TOO_LARGE') throw tooLarge(maxBytes);
    if (reply.error || !reply.data) {
      throw new InitramfsDecodeError(`${compression} stream: ${reply.error ?? 'no data'}`);
    }
    return Buffer.from(reply.data);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}

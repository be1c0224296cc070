// Talking to the worker API from the browser: the bearer token lives in sessionStorage (gone
// when the tab closes), every call sends it, and a 401 tells the app to ask for it.
// Server-Sent Events are read with fetch + ReadableStream because EventSource cannot send headers.

import { parseSseBlock, type SseMessage } from './sse.js';

export type { SseMessage } from './sse.js';

const TOKEN_KEY = 'guestkit-worker.api-token';
export const UNAUTHORIZED_EVENT = 'guestkit:unauthorized';

export const session = {
  token: (): string => sessionStorage.getItem(TOKEN_KEY) ?? '',
  setToken(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An error envelope of the API (`{error, message, details}`), or a network failure. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = session.token();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function failure(res: Response): Promise<ApiFailure> {
  let body: { error?: string; message?: string; details?: unknown } = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON: keep the status line */
  }
  if (res.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  return new ApiFailure(
    res.status,
    body.error ?? `HTTP_${res.status}`,
    body.message ?? res.statusText,
    body.details,
  );
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: init.method ?? 'GET',
      headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
      signal: init.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiFailure(0, 'NETWORK_ERROR', `Cannot reach the worker API: ${(err as Error).message}`);
  }
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** Fetches a file with the token and hands it to the browser as a download named `name`. */
export async function download(path: string, name: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(path, { headers: headers() });
  } catch (err) {
    throw new ApiFailure(0, 'NETWORK_ERROR', `Cannot reach the worker API: ${(err as Error).message}`);
  }
  if (!res.ok) throw await failure(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Reads an event stream until it ends or `signal` aborts; resolves when the server closed it.
 * Rejects with ApiFailure on an error status.
 */
export async function readEvents(
  path: string,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
  onOpen?: () => void,
): Promise<void> {
  const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
  if (!res.ok || !res.body) throw await failure(res);
  onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const m = parseSseBlock(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (m) onMessage(m);
    }
  }
}

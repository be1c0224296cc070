// Where `guestkit-worker explore` gets its files from: a local session (one read-only appliance
// in this process, no daemon) or a daemon's explore session over REST (--api-url). The files view
// and the script forms use this one interface, so both behave the same against either.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type {
  ExploreEntry,
  ExploreLayout,
  FindResult,
  ListOptions,
  Listing,
  ReadOptions,
  ReadResult,
} from '../../../lib/explore/index.js';
import { clientSettingsFromEnv, resolveConfig } from '../../config.js';
import { ExploreSessions } from '../../explore/sessions.js';
import { ApiClientError, DEFAULT_API_URL } from '../client.js';

/** An open explore session, local or remote. */
export interface ExploreSource {
  /** The image, as the status line shows it. */
  readonly image: string;
  readonly layout: ExploreLayout;
  ls(path: string, options?: ListOptions): Promise<Listing>;
  stat(path: string): Promise<ExploreEntry>;
  read(path: string, options?: ReadOptions): Promise<ReadResult>;
  /** The whole file, streamed. */
  download(path: string): Promise<Readable>;
  find(path: string, glob: string): Promise<FindResult>;
  /** Ends the session: its appliance is killed. */
  close(): Promise<void>;
}

/** A session in this process. It never expires on its own: the user may stay idle in the view. */
export async function openLocal(image: string, format?: string): Promise<ExploreSource> {
  // The user runs this on their own files: every path is allowed, as for `inspect`.
  const config = resolveConfig({ allowedRoots: ['/'], explore: { maxSessions: 1 } });
  const sessions = new ExploreSessions({ config, ttlMs: 0x7fffffff });
  let s;
  try {
    s = await sessions.open({ path: image, format });
  } catch (err) {
    await sessions.closeAll();
    throw err;
  }
  const ex = s.explorer;
  return {
    image,
    layout: ex.layout,
    ls: (p, o) => ex.ls(p, o),
    stat: (p) => ex.stat(p),
    read: (p, o) => ex.read(p, o),
    download: async (p) => (await ex.download(p)).stream,
    find: (p, g) => ex.find(p, g),
    close: () => sessions.closeAll(),
  };
}

interface RemoteOptions {
  apiUrl?: string;
  apiToken?: string;
}

/** A daemon's session over REST: opened here, closed (DELETE) by close(). */
export async function openRemote(
  image: string,
  format: string | undefined,
  options: RemoteOptions,
): Promise<ExploreSource> {
  const env = clientSettingsFromEnv();
  const base = (options.apiUrl ?? env.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const token = options.apiToken ?? env.token;
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    accept: 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  });
  const send = async (path: string, init: RequestInit = {}): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        ...init,
        headers: headers(init.headers as Record<string, string>),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new ApiClientError(
        'UNREACHABLE',
        `cannot reach the worker API at ${base}: ${cause?.code ?? (err as Error).message} — is the daemon running?`,
      );
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
      throw new ApiClientError(
        body.error ?? `HTTP_${res.status}`,
        body.message ?? `${res.status} ${res.statusText} from ${base}${path}`,
        res.status,
      );
    }
    return res;
  };
  const json = async <T>(path: string, init?: RequestInit): Promise<T> =>
    (await (await send(path, init)).json()) as T;
  const session = await json<{ id: string; layout: ExploreLayout }>('/api/v1/explore', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image: { path: image, ...(format ? { format } : {}) } }),
  });
  const at = (op: string, q: Record<string, string | number | boolean | undefined>): string => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) qs.set(k, String(v));
    return `/api/v1/explore/${session.id}/${op}?${qs.toString()}`;
  };
  return {
    image,
    layout: session.layout,
    ls: (path, o = {}) =>
      json(
        at('ls', {
          path,
          offset: o.offset,
          limit: o.limit,
          sort: o.sort,
          hidden: o.hideHidden ? false : undefined,
        }),
      ),
    stat: (path) => json(at('stat', { path })),
    read: async (path, o = {}) => {
      const r = await json<Omit<ReadResult, 'data' | 'text'> & { encoding: string; content: string }>(
        at('read', { path, offset: o.offset, length: o.length }),
      );
      const { encoding, content, ...rest } = r;
      const data = Buffer.from(content, encoding === 'base64' ? 'base64' : 'utf8');
      return { ...rest, data, text: encoding === 'base64' ? undefined : content };
    },
    download: async (path) => {
      const res = await send(at('download', { path }), { headers: { accept: 'application/octet-stream' } });
      return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    },
    find: (path, glob) => json(at('find', { path, glob })),
    close: async () => {
      await send(`/api/v1/explore/${session.id}`, { method: 'DELETE' }).catch(() => undefined);
    },
  };
}

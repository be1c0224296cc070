// A small typed client for the worker's REST API over fetch. The CLI uses it; library users can
// too: `import { WorkerClient } from 'guestkit-worker/worker'`.
import { clientSettingsFromEnv } from '../config.js';
import type { HealthReport, JobStatus, JobStatusDocument, ListPage, ListQuery } from '../worker/types.js';
import type { ProgressEvent, ResultDocument, WorkerRegistration } from '../protocol/schema.js';
import { isTerminal } from '../protocol/vocabulary.js';

export const DEFAULT_API_URL = 'http://localhost:8080';

export interface WorkerClientOptions {
  /** Default GUESTKIT_WORKER_API_URL or http://localhost:8080. */
  baseUrl?: string;
  /** Default GUESTKIT_API_TOKEN. */
  token?: string;
  /** Per-request timeout for non-streaming calls (default 30 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** An API failure: `code` is the server's error code, or UNREACHABLE / BAD_RESPONSE. */
export class ApiClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiClientError';
  }
}

export interface SubmitResponse {
  job_id: string;
  status: JobStatus;
  message: string;
  existing?: boolean;
  reason?: 'same_document' | 'idempotency_key';
}

export interface CancelResponse {
  job_id: string;
  status: JobStatus;
  message: string;
}

export type Capabilities = WorkerRegistration & {
  operations: string[];
  features: string[];
  disk_formats: string[];
  max_concurrent_jobs: number;
  max_disk_size_gb: number;
  pool: string;
};

/** One frame of the events stream. */
export type JobStreamEvent =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'status'; job_id: string; status: JobStatus; attempt: number }
  | { type: 'end'; job_id: string; status: JobStatus };

export class WorkerClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: WorkerClientOptions = {}) {
    const env = clientSettingsFromEnv();
    this.baseUrl = (options.baseUrl ?? env.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.token = options.token ?? env.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: 'application/json',
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...extra,
    };
  }

  private async send(
    path: string,
    init: RequestInit & { stream?: boolean; accept503?: boolean } = {},
  ): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, {
        ...init,
        signal: init.signal ?? (init.stream ? undefined : AbortSignal.timeout(this.timeoutMs)),
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError' && init.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ApiClientError(
        'UNREACHABLE',
        `cannot reach the worker API at ${this.baseUrl}: ${reason} — is the daemon running?`,
      );
    }
    if (!res.ok && !(init.accept503 && res.status === 503)) {
      let body: { error?: string; message?: string; details?: Record<string, unknown> } = {};
      try {
        body = (await res.json()) as typeof body;
      } catch {
        /* not JSON: keep the status line */
      }
      throw new ApiClientError(
        body.error ?? `HTTP_${res.status}`,
        body.message ?? `${res.status} ${res.statusText} from ${this.baseUrl}${path}`,
        res.status,
        body.details,
      );
    }
    return res;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.send(path, {
      ...init,
      headers: this.headers(init.headers as Record<string, string>),
    });
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiClientError('BAD_RESPONSE', `The server at ${this.baseUrl}${path} did not answer JSON`);
    }
  }

  private static id(jobId: string): string {
    return encodeURIComponent(jobId);
  }

  /** Submits an envelope (object) or a document's text (`contentType` yaml for YAML text). */
  submit(job: unknown, options: { contentType?: 'json' | 'yaml' } = {}): Promise<SubmitResponse> {
    const yaml = options.contentType === 'yaml';
    const body = typeof job === 'string' ? job : JSON.stringify(job);
    return this.json('/api/v1/jobs', {
      method: 'POST',
      body,
      headers: { 'content-type': yaml ? 'application/yaml' : 'application/json' },
    });
  }

  status(jobId: string): Promise<JobStatusDocument> {
    return this.json(`/api/v1/jobs/${WorkerClient.id(jobId)}`);
  }

  /** The result document; rejects with code NOT_READY while the job is not terminal. */
  async result(jobId: string): Promise<ResultDocument> {
    const r = await this.json<{ data: ResultDocument }>(`/api/v1/jobs/${WorkerClient.id(jobId)}/result`);
    return r.data;
  }

  list(query: ListQuery = {}): Promise<ListPage> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return this.json(`/api/v1/jobs${qs ? `?${qs}` : ''}`);
  }

  cancel(jobId: string): Promise<CancelResponse> {
    return this.json(`/api/v1/jobs/${WorkerClient.id(jobId)}`, { method: 'DELETE' });
  }

  capabilities(): Promise<Capabilities> {
    return this.json('/api/v1/capabilities');
  }

  workers(): Promise<{ workers: WorkerRegistration[]; total: number }> {
    return this.json('/api/v1/workers');
  }

  /** Health report; a 503 (unhealthy) still resolves with the report. */
  async health(): Promise<HealthReport> {
    const res = await this.send('/api/v1/health', { headers: this.headers(), accept503: true });
    return (await res.json()) as HealthReport;
  }

  /** Polls until the job is terminal (or the signal aborts); calls onChange on every change. */
  async waitFor(
    jobId: string,
    options: { intervalMs?: number; signal?: AbortSignal; onChange?: (doc: JobStatusDocument) => void } = {},
  ): Promise<JobStatusDocument> {
    let last = '';
    for (;;) {
      const doc = await this.status(jobId);
      const key = `${doc.status}|${doc.progress?.percent}|${doc.progress?.message}`;
      if (key !== last) options.onChange?.(doc);
      last = key;
      if (isTerminal(doc.status)) return doc;
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
      options.signal?.throwIfAborted();
    }
  }

  /** Follows the job's Server-Sent Events: stored progress, then live, until `end`. */
  async *events(
    jobId: string,
    options: { after?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<JobStreamEvent> {
    const qs = options.after === undefined ? '' : `?after=${options.after}`;
    const res = await this.send(`/api/v1/jobs/${WorkerClient.id(jobId)}/events${qs}`, {
      headers: this.headers({ accept: 'text/event-stream' }),
      signal: options.signal,
      stream: true,
    });
    if (!res.body) throw new ApiClientError('BAD_RESPONSE', 'The event stream has no body');
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let idx: number;
      while ((idx = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, idx);
        buf = buf.slice(idx + 2);
        const parsed = parseFrame(frame);
        if (!parsed) continue;
        yield parsed;
        if (parsed.type === 'end') return;
      }
    }
    throw new ApiClientError('STREAM_CLOSED', `The event stream of job ${jobId} closed before the job ended`);
  }
}

/** One SSE frame (`event:` + `data:` lines) → a typed event; comments and unknown events → undefined. */
export function parseFrame(frame: string): JobStreamEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  const payload = JSON.parse(data.join('\n')) as Record<string, unknown>;
  switch (event) {
    case 'progress':
      return { type: 'progress', event: payload as unknown as ProgressEvent };
    case 'status':
      return {
        type: 'status',
        job_id: String(payload.job_id),
        status: payload.status as JobStatus,
        attempt: Number(payload.attempt),
      };
    case 'end':
      return { type: 'end', job_id: String(payload.job_id), status: payload.status as JobStatus };
    default:
      return undefined;
  }
}

// Data hooks: one fetch with loading/error state, periodic refresh, a live event stream.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, readEvents, type SseMessage } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (again whenever it changes, or every `refreshMs`). */
export function useApi<T>(path: string | null, refreshMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiFailure; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api<T>(path, { signal: ctl.signal }).then(
      (data) => setState({ data, loading: false }),
      (err: Error) => {
        if (err.name !== 'AbortError')
          setState((s) => ({ data: s.data, error: err as ApiFailure, loading: false }));
      },
    );
    return () => ctl.abort();
  }, [path, tick]);
  useEffect(() => {
    if (!refreshMs) return;
    const t = setInterval(reload, refreshMs);
    return () => clearInterval(t);
  }, [refreshMs, reload]);
  return { ...state, reload } as Loaded<T>;
}

/**
 * Follows an SSE path; reconnects after a drop (not after the server ended it with `end`).
 * `onOpen` runs on every (re)connect so the caller can refetch what it may have missed.
 */
export function useEventStream(
  path: string | null,
  onMessage: (m: SseMessage) => void,
  options: { reconnect?: boolean; onOpen?: () => void } = {},
): 'connecting' | 'live' | 'ended' | 'error' {
  const [state, setState] = useState<'connecting' | 'live' | 'ended' | 'error'>('connecting');
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const opened = useRef(options.onOpen);
  opened.current = options.onOpen;
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      setState('connecting');
      readEvents(
        path,
        (m) => handler.current(m),
        ctl.signal,
        () => {
          setState('live');
          // Whatever happened while disconnected is refetched by the caller.
          opened.current?.();
        },
      ).then(
        () => {
          setState('ended');
          if (options.reconnect && !ctl.signal.aborted) retry = setTimeout(connect, 1000);
        },
        (err: Error) => {
          if (ctl.signal.aborted) return;
          setState('error');
          const status = (err as ApiFailure).status;
          if (status !== 401 && status !== 404) retry = setTimeout(connect, 2000);
        },
      );
    };
    connect();
    return () => {
      ctl.abort();
      clearTimeout(retry);
    };
  }, [path, options.reconnect]);
  return state;
}

/** Re-renders every `ms` (relative times). */
export function useNow(ms = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

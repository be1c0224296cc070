// Server-Sent Events framing (pure: no DOM), used by the fetch-based stream reader in api.ts.

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** Splits an SSE byte stream into messages (comments and keep-alives are skipped). */
export function parseSseBlock(block: string): SseMessage | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  return data.length ? { event, data: data.join('\n'), id } : undefined;
}

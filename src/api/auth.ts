// Optional bearer-token auth. Both sides are hashed first so timingSafeEqual always compares
// equal-length buffers: neither the token's content nor its length leaks through timing. Only
// the Authorization header counts (a token in the query string ends up in logs and histories).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when the header carries exactly `Bearer <token>`. */
export function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const m = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  // Hash something even when the header is absent, so both paths cost the same.
  const given = digest(m ? m[1] : '');
  return timingSafeEqual(given, expected) && m !== null;
}

/** Paths reachable without a token (load balancers and probes must see health). */
const OPEN_PATHS = new Set(['/health', '/api/v1/health']);

export function authHook(token: string) {
  const expected = digest(token);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const path = req.url.split('?', 1)[0];
    // Routes flagged `config: { public: true }` hold no data (the dashboard's static files).
    const open = (req.routeOptions.config as { public?: boolean } | undefined)?.public === true;
    if (open || OPEN_PATHS.has(path)) return undefined;
    if (bearerMatches(req.headers.authorization, expected)) return undefined;
    reply.header('www-authenticate', 'Bearer realm="guestkit-worker"');
    return sendError(
      reply,
      401,
      'UNAUTHORIZED',
      req.headers.authorization
        ? 'Invalid API token'
        : 'Missing API token: send "Authorization: Bearer <token>" (--api-token / GUESTKIT_API_TOKEN)',
    );
  };
}

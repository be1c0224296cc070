// Serves the web dashboard at `/` (static files built by `npm run build:dashboard`) and the two
// API routes it needs (live.ts). The static files hold no data, so they are public (route config
// `public: true`, honoured by the API's auth hook); every data call the page makes carries the
// bearer token the user typed in.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../api/errors.js';
import type { Worker } from '../worker/types.js';
import { defaultAssetsDir, loadAssets, type Asset } from './assets.js';
import { liveRoutes } from './live.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without the bearer token (files that hold no data). */
    public?: boolean;
  }
}

export interface DashboardOptions {
  worker: Worker;
  /** Directory holding index.html and assets/ (default: dist/dashboard). */
  assetsDir?: string;
}

// Locks the page down to its own origin: no CDN, no inline script, no framing.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header('etag', asset.etag)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (asset.type.startsWith('text/html')) {
    reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
  }
  if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

export async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const dir = options.assetsDir ?? defaultAssetsDir();
  const assets = await loadAssets(dir);
  const route = { config: { public: true }, schema: { hide: true } };

  app.get('/', route, async (req, reply) => {
    const index = assets?.get('/index.html');
    if (!index) {
      return sendError(
        reply,
        503,
        'DASHBOARD_NOT_BUILT',
        `The dashboard is not built (no ${dir}/index.html): run "npm run build:dashboard"`,
      );
    }
    return send(req, reply, index);
  });
  app.get<{ Params: { '*': string } }>('/assets/*', route, async (req, reply) => {
    const asset = assets?.get(`/assets/${req.params['*']}`);
    if (!asset) return reply.callNotFound();
    return send(req, reply, asset);
  });

  liveRoutes(app, options.worker);
}

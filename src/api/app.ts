// The fastify application: body parsers (JSON, YAML), auth, optional rate limiting, OpenAPI,
// routes and one error envelope for everything. `buildApi` returns an app that is not listening,
// so tests can use `inject`; `startApi` (index.ts) binds it.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { dashboardPlugin } from '../dashboard/plugin.js';
import type { Logger } from '../logger.js';
import { parseJobText } from '../protocol/parse.js';
import type { Worker } from '../worker/types.js';
import { authHook } from './auth.js';
import { ApiError, mapError, sendError } from './errors.js';
import { healthReporter, type HealthOptions } from './health.js';
import { jobRoutes } from './routes/jobs.js';
import { systemRoutes } from './routes/system.js';
import { exploreRoutes } from './routes/explore.js';
import { ExploreSessions } from '../explore/sessions.js';
import type { SseOptions, StreamRegistry } from './sse.js';

/** How much of a refused oversize body is read and dropped so the client can read the 413. */
const OVERSIZE_DRAIN_BYTES = 16 * 1024 * 1024;
const OVERSIZE_DRAIN_MS = 2000;

function drainBody(
  raw: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean },
  maxBytes: number,
  maxMs: number,
): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.removeListener('data', onData);
      raw.removeListener('end', done);
      raw.removeListener('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('error', done);
    raw.resume();
  });
}

export interface BuildApiOptions {
  /** Bearer token every route but health requires. Default: worker.config.api.token. */
  token?: string;
  /** Default: worker.config.api.bodyLimitBytes (2 MiB). */
  bodyLimitBytes?: number;
  logger?: Logger;
  /** Per-client limit (by IP). Off unless given (or config.api.rateLimit via startApi). */
  rateLimit?: { max: number; timeWindowMs?: number };
  /** Serve /openapi.json and /docs (default true). */
  docs?: boolean;
  sse?: SseOptions;
  health?: HealthOptions;
  /** Serve the web dashboard at `/` with /api/v1/stats and /api/v1/events (default true). */
  dashboard?: boolean;
  /** Explore sessions to serve at /api/v1/explore (default: new ones from worker.config, closed with the app). */
  explore?: ExploreSessions;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** Route paths and their methods, to answer 405 (with Allow) instead of 404 for a wrong method. */
function methodIndex(app: FastifyInstance) {
  const routes: { re: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (r) => {
    const re = new RegExp(
      `^${r.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z]+/g, '[^/]+')}/?$`,
    );
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const hit = routes.find((x) => x.re.source === re.source);
    if (hit) methods.forEach((m) => hit.methods.add(m));
    else routes.push({ re, methods: new Set(methods) });
  });
  return (path: string) => routes.find((r) => r.re.test(path))?.methods;
}

export async function buildApi(worker: Worker, options: BuildApiOptions = {}): Promise<FastifyInstance> {
  const token = options.token ?? worker.config.api.token;
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? worker.config.api.bodyLimitBytes,
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : {}),
    // Per-request lines would dominate the log at load; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Longer than any valid job id, so an over-long id gets the schema's 400, not a 414.
    routerOptions: { maxParamLength: 512 },
    // Router-level failures (bad URL encoding, …) get the same envelope as everything else.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = mapError(err);
      void (reply as FastifyReply).code(status).type('application/json; charset=utf-8').send(body);
    },
    forceCloseConnections: true,
  });
  const allowed = methodIndex(app);
  const streams: StreamRegistry = new Set();

  // Query strings and params: ajv with coercion. Bodies are job envelopes, validated by the
  // protocol rules (ordered messages of protocol §2) inside worker.submit, not by ajv. Every
  // problem of a query is reported at once (small, bounded inputs: allErrors costs nothing here).
  const ajv = new Ajv({
    coerceTypes: 'array',
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    allErrors: true,
  });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? () => true : ajv.compile(schema as object),
  );
  // Plain JSON.stringify: response schemas document the API (tests check responses against
  // them) but must never drop a field of an open protocol document.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, parseJobText(text as string, 'json'));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, parseJobText(text as string, 'yaml'));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler(async (err, req, reply) => {
    const { status, body } = mapError(err);
    if (status >= 500) req.log.error({ err, url: req.url }, 'request failed');
    if (status === 413) {
      // A client still sending a too-large body would get a write error (EPIPE) before it reads
      // this answer: take in a bounded rest of the body first, then close the connection.
      reply.header('connection', 'close');
      await drainBody(req.raw, OVERSIZE_DRAIN_BYTES, OVERSIZE_DRAIN_MS);
    }
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?', 1)[0];
    const methods = allowed(path);
    if (methods && !methods.has(req.method)) {
      reply.header('allow', [...methods].join(', '));
      return sendError(reply, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`, {
        allowed: [...methods],
      });
    }
    return sendError(reply, 404, 'NOT_FOUND', `No route ${req.method} ${path}; see /openapi.json`);
  });

  // Transport metrics: every submission the HTTP transport received, and those it refused.
  app.addHook('onResponse', (req, reply, done) => {
    if (req.method === 'POST' && req.routeOptions.url === '/api/v1/jobs') {
      worker.reportTransport('transport:fetch', { transport: 'http' });
      if (reply.statusCode >= 400) {
        worker.reportTransport('transport:error', { transport: 'http', error: `HTTP ${reply.statusCode}` });
      }
    }
    done();
  });
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  if (options.rateLimit) {
    const { default: rateLimit } = await import('@fastify/rate-limit');
    await app.register(rateLimit, {
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.timeWindowMs ?? 60_000,
      allowList: (req) => ['/health', '/api/v1/health'].includes(req.url.split('?', 1)[0]),
      errorResponseBuilder: (_req, ctx) =>
        new ApiError(429, 'RATE_LIMITED', `Too many requests; retry in ${Math.ceil(ctx.ttl / 1000)} s`, {
          limit: ctx.max,
        }),
    });
  }
  if (token) app.addHook('onRequest', authHook(token));

  if (options.docs !== false) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'guestkit-worker API',
          description: 'Job Protocol v1 over HTTP: submit jobs, follow them, fetch results.',
          version: worker.config.version,
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        ...(token ? { security: [{ bearer: [] }] } : {}),
        tags: [
          { name: 'jobs', description: 'Job submission and tracking' },
          { name: 'worker', description: 'Capabilities, workers, health' },
          {
            name: 'explore',
            description: 'Explore sessions: browse, read, search and download files of an image',
          },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  jobRoutes(app, worker, streams, options.sse ?? {});
  systemRoutes(app, worker, healthReporter(worker, options.health));
  const explore = options.explore ?? new ExploreSessions({ config: worker.config, logger: options.logger });
  if (!options.explore) app.addHook('onClose', () => explore.closeAll());
  exploreRoutes(app, explore);
  if (options.dashboard !== false) await app.register(dashboardPlugin, { worker });
  return app;
}

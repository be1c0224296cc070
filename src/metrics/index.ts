// Metrics server on its own address (`--metrics-addr`): `GET /metrics` (Prometheus text) and
// `GET /health`. Plain node:http — two routes do not need a framework, and scrapes stay cheap.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { bearerMatches } from '../api/auth.js';
import type { ServerHandle } from '../api/index.js';
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Worker } from '../worker/types.js';
import { createWorkerMetrics, type WorkerMetrics, type WorkerMetricsOptions } from './registry.js';
export { EXPLORE_METRIC_NAMES } from './explore.js';

export {
  createWorkerMetrics,
  DURATION_BUCKETS,
  METRIC_NAMES,
  type WorkerMetrics,
  type WorkerMetricsOptions,
} from './registry.js';

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** An http.Server answering /metrics and /health for the given metrics (not listening yet). */
export function metricsServer(metrics: WorkerMetrics, logger?: Logger, token?: string): Server {
  const expected = token ? createHash('sha256').update(token, 'utf8').digest() : undefined;
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed` });
    }
    if (path === '/health') return json(res, 200, { status: 'healthy' });
    if (path !== '/metrics') {
      return json(res, 404, { error: 'NOT_FOUND', message: `No route ${path}; use /metrics or /health` });
    }
    // --metrics-require-token: the API's token, the API's rule (only the Authorization header).
    if (expected && !bearerMatches(req.headers.authorization, expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="guestkit-worker"');
      return json(res, 401, {
        error: 'UNAUTHORIZED',
        message: req.headers.authorization
          ? 'Invalid API token'
          : 'Missing API token: send "Authorization: Bearer <token>" (metrics require it: --metrics-require-token)',
      });
    }
    metrics.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger?.error({ err }, 'metrics collection failed');
        json(res, 500, { error: 'INTERNAL_ERROR', message: 'metrics collection failed; see the worker log' });
      },
    );
  });
}

export async function startMetrics(
  worker: Worker,
  config: Readonly<WorkerConfig>,
  logger: Logger,
  options: WorkerMetricsOptions = { defaultMetrics: true },
): Promise<ServerHandle | undefined> {
  const metrics = createWorkerMetrics(worker, options);
  const server = metricsServer(metrics, logger, config.metrics.requireToken ? config.api.token : undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metrics.port, config.metrics.host, () => resolve());
  });
  const addr = server.address();
  const address =
    typeof addr === 'object' && addr
      ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
      : config.metrics.addr;
  logger.info({ address }, 'metrics listening');
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

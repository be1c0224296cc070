// Capabilities, workers, health.
import type { FastifyInstance } from 'fastify';
import type { HealthReport, Worker } from '../../worker/types.js';
import { CapabilitiesSchema, errors, HealthSchema, WorkersResponseSchema } from '../schemas.js';

export function systemRoutes(
  app: FastifyInstance,
  worker: Worker,
  health: () => Promise<HealthReport>,
): void {
  app.get(
    '/api/v1/capabilities',
    {
      schema: {
        tags: ['worker'],
        summary: 'The worker registration document (operations, features, disk formats, limits)',
        response: { 200: CapabilitiesSchema, ...errors() },
      },
    },
    async () => {
      const reg = await worker.capabilities();
      return {
        ...reg,
        operations: reg.capabilities.operations,
        features: reg.capabilities.features,
        disk_formats: reg.capabilities.disk_formats,
        max_concurrent_jobs: reg.resources.max_concurrent_jobs,
        max_disk_size_gb: reg.resources.max_disk_size_gb,
        pool: reg.configuration.worker_pool,
      };
    },
  );

  app.get(
    '/api/v1/workers',
    {
      schema: {
        tags: ['worker'],
        summary: 'Workers seen (this process in the embedded mode)',
        response: { 200: WorkersResponseSchema, ...errors() },
      },
    },
    async () => {
      const workers = worker.workers ? await worker.workers() : [await worker.capabilities()];
      return { workers, total: workers.length };
    },
  );

  const healthRoute = {
    schema: {
      tags: ['worker'],
      summary: 'Health: store writable, queue reachable, libguestfs usable (503 when unhealthy)',
      response: { 200: HealthSchema, 503: HealthSchema },
    },
  };
  const handler = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const report = await health();
    return reply.code(report.status === 'unhealthy' ? 503 : 200).send(report);
  };
  app.get('/api/v1/health', healthRoute, handler);
  app.get('/health', { schema: { ...healthRoute.schema, hide: true } }, handler);
}

// /api/v1/jobs…: submit, list, status, submission (envelope + history), result, cancel, delete a finished job, events.
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../protocol/errors.js';
import { SubmitBodySchema } from '../../protocol/payloads/index.js';
import type { ListQuery, Worker } from '../../worker/types.js';
import { isTerminal } from '../../worker/types.js';
import { sendError } from '../errors.js';
import {
  CancelResponseSchema,
  DeleteResponseSchema,
  ErrorSchema,
  errors,
  EventsQuerySchema,
  JobIdParams,
  JobStatusDocumentSchema,
  ListQuerySchema,
  ListResponseSchema,
  ResultResponseSchema,
  SubmissionSchema,
  SubmitResponseSchema,
  type ListQueryParams,
  type SubmitResponse,
} from '../schemas.js';
import { streamJobEvents, type SseOptions, type StreamRegistry } from '../sse.js';

const tags = ['jobs'];

export function jobRoutes(
  app: FastifyInstance,
  worker: Worker,
  streams: StreamRegistry,
  sse: SseOptions,
): void {
  app.post(
    '/api/v1/jobs',
    {
      schema: {
        tags,
        summary: 'Submit a job (Job Protocol v1 envelope, JSON or YAML)',
        body: SubmitBodySchema,
        response: {
          201: SubmitResponseSchema,
          200: SubmitResponseSchema,
          ...errors(400, 409, 413, 415, 503),
        },
      },
    },
    async (req, reply) => {
      if (req.body === undefined || req.body === null) {
        throw new ValidationError(
          'Request body is empty or null: send the job envelope, a JSON (or YAML) object',
        );
      }
      const r = await worker.submit(req.body, { source: 'http', origin: req.ip });
      if (r.created) {
        const body: SubmitResponse = {
          job_id: r.job_id,
          status: r.status,
          message: `Job ${r.job_id} submitted successfully`,
        };
        return reply
          .code(201)
          .header('location', `/api/v1/jobs/${encodeURIComponent(r.job_id)}`)
          .send(body);
      }
      const body: SubmitResponse = {
        job_id: r.job_id,
        status: r.status,
        message:
          r.reason === 'idempotency_key'
            ? `Job ${r.job_id} already completed with this idempotency key; not run again`
            : `Job ${r.job_id} was already submitted with this document`,
        existing: true,
        ...(r.reason ? { reason: r.reason } : {}),
      };
      return reply.code(200).send(body);
    },
  );

  app.get<{ Querystring: ListQueryParams }>(
    '/api/v1/jobs',
    {
      schema: {
        tags,
        summary: 'List jobs, newest first, with filters and cursor pagination',
        querystring: ListQuerySchema,
        response: { 200: ListResponseSchema, ...errors(400) },
      },
    },
    async (req) => {
      const q: ListQuery = { limit: req.query.limit ?? 100 };
      if (req.query.status) q.status = req.query.status;
      if (req.query.operation) q.operation = req.query.operation;
      if (req.query.cursor) q.cursor = req.query.cursor;
      return worker.list(q);
    },
  );

  app.get<{ Params: JobIdParams }>(
    '/api/v1/jobs/:id',
    {
      schema: {
        tags,
        summary: 'Status of one job',
        params: JobIdParams,
        response: { 200: JobStatusDocumentSchema, ...errors(400, 404) },
      },
    },
    async (req, reply) => {
      const doc = await worker.get(req.params.id);
      if (!doc) return sendError(reply, 404, 'NOT_FOUND', `Job ${req.params.id} not found`);
      return doc;
    },
  );

  app.get<{ Params: JobIdParams }>(
    '/api/v1/jobs/:id/submission',
    {
      schema: {
        tags,
        summary: 'The envelope as submitted, its source and the status history (attempts)',
        params: JobIdParams,
        response: { 200: SubmissionSchema, ...errors(400, 404) },
      },
    },
    async (req, reply) => {
      const doc = await worker.submitted(req.params.id);
      if (!doc) return sendError(reply, 404, 'NOT_FOUND', `Job ${req.params.id} not found`);
      return doc;
    },
  );

  // DELETE /api/v1/jobs/:id is the original protocol's cancel; deleting a finished job's record
  // is a different act (it cannot be undone), so it has its own path.
  app.delete<{ Params: JobIdParams }>(
    '/api/v1/jobs/:id/record',
    {
      schema: {
        tags,
        summary: 'Delete a finished job with its events and result, for good (409 while it is live)',
        params: JobIdParams,
        response: { 200: DeleteResponseSchema, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const r = await worker.remove(id);
      switch (r.outcome) {
        case 'not_found':
          return sendError(reply, 404, 'NOT_FOUND', `Job ${id} not found`);
        case 'not_terminal':
          return sendError(
            reply,
            409,
            'NOT_FINISHED',
            `Job ${id} is ${r.status}; cancel it first, only finished jobs can be deleted`,
            { job_id: id, status: r.status },
          );
        case 'deleted':
          return { job_id: id, message: `Job ${id} deleted with its events and result` };
      }
    },
  );

  app.get<{ Params: JobIdParams }>(
    '/api/v1/jobs/:id/result',
    {
      schema: {
        tags,
        summary: 'Result document of a terminal job (409 NOT_READY while pending/running)',
        params: JobIdParams,
        response: { 200: ResultResponseSchema, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const doc = await worker.get(id);
      if (!doc) return sendError(reply, 404, 'NOT_FOUND', `Job ${id} not found`);
      const result = isTerminal(doc.status) ? await worker.result(id) : undefined;
      if (!result) {
        return sendError(reply, 409, 'NOT_READY', `Job ${id} is ${doc.status}; its result is not ready yet`, {
          job_id: id,
          status: doc.status,
          progress: doc.progress,
        });
      }
      return { success: true, data: result };
    },
  );

  app.delete<{ Params: JobIdParams }>(
    '/api/v1/jobs/:id',
    {
      schema: {
        tags,
        summary: 'Cancel a job (202 while a running job stops, 200 when it was still queued)',
        params: JobIdParams,
        response: { 200: CancelResponseSchema, 202: CancelResponseSchema, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const r = await worker.cancel(id);
      switch (r.outcome) {
        case 'not_found':
          return sendError(reply, 404, 'NOT_FOUND', `Job ${id} not found`);
        case 'already_terminal':
          return sendError(
            reply,
            409,
            'NOT_CANCELLABLE',
            `Job ${id} already ended (${r.status}); nothing to cancel`,
            {
              job_id: id,
              status: r.status,
            },
          );
        case 'not_cancellable':
          return sendError(
            reply,
            409,
            'NOT_CANCELLABLE',
            `Job ${id} is running with execution.cancellable=false and cannot be cancelled`,
            { job_id: id, status: r.status },
          );
        case 'cancelled':
          return reply.code(200).send({ job_id: id, status: 'cancelled', message: `Job ${id} cancelled` });
        case 'stopping':
          return reply
            .code(202)
            .send({ job_id: id, status: r.status ?? 'running', message: `Job ${id} is being cancelled` });
      }
    },
  );

  app.get<{ Params: JobIdParams; Querystring: { after?: number } }>(
    '/api/v1/jobs/:id/events',
    {
      schema: {
        tags,
        summary: 'Progress events as Server-Sent Events: stored ones, then live, until a terminal status',
        description:
          'Frames: `event: progress` (id = sequence, data = progress event), `event: status` ' +
          '(status changes), `event: end` (data `{job_id, status}`, then the stream closes). ' +
          'Resume with `Last-Event-ID` or `?after=<sequence>`.',
        params: JobIdParams,
        querystring: EventsQuerySchema,
        produces: ['text/event-stream'],
        response: {
          200: { type: 'string', description: 'text/event-stream' },
          404: ErrorSchema,
          ...errors(400),
        },
      },
    },
    async (req, reply) => {
      const lastId = Number(req.headers['last-event-id']);
      const after = req.query.after ?? (Number.isInteger(lastId) ? lastId : -1);
      await streamJobEvents(worker, req.params.id, after, req, reply, streams, sse);
    },
  );
}

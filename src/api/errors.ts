// One error envelope for every failure the API can produce: worker errors (protocol codes),
// fastify's own (bad JSON, content type, body size, validation), auth, rate limits, unknown
// routes. Never plain text, never a stack trace.
import type { FastifyError, FastifyReply } from 'fastify';
import { isWorkerError } from '../protocol/errors.js';
import { httpStatusFor } from '../worker/types.js';
import type { ErrorBody } from './schemas.js';
import { validationMessage, type SchemaError } from './validation-message.js';

/** Codes only the HTTP layer uses (on top of the worker's ErrorCode). */
export type HttpErrorCode =
  | 'UNAUTHORIZED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'BAD_REQUEST';

/** An error raised by the HTTP layer itself, with the status it maps to. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface MappedError {
  status: number;
  body: ErrorBody;
}

function body(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return details === undefined ? { error: code, message } : { error: code, message, details };
}

/** Maps anything thrown in a route, hook or parser to a status and the envelope. */
export function mapError(err: unknown): MappedError {
  if (err instanceof ApiError)
    return { status: err.statusCode, body: body(err.code, err.message, err.details) };
  if (isWorkerError(err))
    return { status: httpStatusFor(err.code), body: body(err.code, err.message, err.details) };
  const fe = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fe.validation) {
    return {
      status: 400,
      body: body(
        'VALIDATION_ERROR',
        `Invalid request: ${validationMessage(fe.validationContext, fe.validation as SchemaError[])}`,
        { location: fe.validationContext },
      ),
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: body(
          'PAYLOAD_TOO_LARGE',
          'Request body is too large; job documents are limited (2 MiB by default)',
        ),
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: body(
          'UNSUPPORTED_MEDIA_TYPE',
          'Unsupported Content-Type; send the job as application/json (or application/yaml)',
        ),
      };
    case 'FST_ERR_BAD_URL':
      return { status: 400, body: body('VALIDATION_ERROR', 'Malformed URL: fix its percent-encoding') };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        status: 400,
        body: body('VALIDATION_ERROR', 'Invalid path parameter: far too long for a job id'),
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: body('VALIDATION_ERROR', fe.message ?? 'Malformed request body') };
  }
  // A full disk under the store or the results: the request was fine, the worker cannot take it now.
  const sys = (err as { code?: unknown } | null)?.code;
  if (sys === 'SQLITE_FULL' || sys === 'ENOSPC') {
    return {
      status: 503,
      body: body(
        'WORKER_UNAVAILABLE',
        'The worker is out of disk space (job store or results); free space on its state/results volume, then retry',
      ),
    };
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 429) return { status, body: body('RATE_LIMITED', fe.message ?? 'Too many requests') };
  if (status >= 400 && status < 500) {
    return { status, body: body('BAD_REQUEST', fe.message ?? 'Bad request') };
  }
  return { status: 500, body: body('INTERNAL_ERROR', 'Internal server error; see the worker log') };
}

export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(body(code, message, details));
}

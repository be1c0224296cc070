// /api/v1/explore…: explore sessions over REST (open, ls, stat, read, download, find, grep,
// checksum, close). Each session holds one read-only appliance; see src/explore/sessions.ts.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ExploreError, type ExploreErrorCode } from '../../../lib/explore/index.js';
import { CodedError } from '../../../lib/errors.js';
import type { Explorer } from '../../../lib/explore/index.js';
import type { ExploreSessions } from '../../explore/sessions.js';
import { ValidationError, WorkerError } from '../../protocol/errors.js';
import { httpStatusFor } from '../../worker/types.js';
import type { ErrorCode } from '../../protocol/errors.js';
import { ApiError } from '../errors.js';
import { errors } from '../schemas.js';

const tags = ['explore'];

const STATUS: Record<ExploreErrorCode, number> = {
  VALIDATION_ERROR: 400,
  FILE_NOT_FOUND: 404,
  NOT_A_DIRECTORY: 400,
  IS_A_DIRECTORY: 400,
  RANGE_NOT_SATISFIABLE: 416,
  EXPLORER_CLOSED: 410,
};

/** Explorer and library errors → the API's envelope (worker errors pass as they are). */
function apiError(err: unknown): unknown {
  if (err instanceof ExploreError) return new ApiError(STATUS[err.code], err.code, err.message, err.details);
  if (err instanceof CodedError && !(err instanceof WorkerError)) {
    return new ApiError(httpStatusFor(err.code as ErrorCode), err.code, err.message, err.details);
  }
  return err;
}

const SessionParams = Type.Object({
  id: Type.String({ pattern: '^[0-9A-Z]{26}$', description: 'Session id' }),
});
type SessionParams = Static<typeof SessionParams>;
const PathQuery = Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096, default: '/' }) });

const OpenBody = Type.Object({
  image: Type.Object({
    path: Type.String({ minLength: 1 }),
    format: Type.Optional(Type.String()),
    checksum: Type.Optional(Type.String()),
  }),
});

const EntrySchema = Type.Object({
  name: Type.String(),
  path: Type.String(),
  type: Type.String(),
  size: Type.Integer(),
  mode: Type.Integer(),
  permissions: Type.String(),
  uid: Type.Integer(),
  gid: Type.Integer(),
  user: Type.Optional(Type.String()),
  group: Type.Optional(Type.String()),
  mtime: Type.String({ format: 'date-time' }),
  target: Type.Optional(Type.String()),
  targetType: Type.Optional(Type.String()),
});

const SessionSchema = Type.Object({
  id: Type.String(),
  image: Type.Object({ path: Type.String(), format: Type.String() }),
  layout: Type.Object(
    { kind: Type.String(), mounts: Type.Record(Type.String(), Type.String()) },
    { additionalProperties: true },
  ),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  ttl_seconds: Type.Number(),
});

const ListingSchema = Type.Object({
  path: Type.String(),
  entries: Type.Array(EntrySchema),
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
});

const ReadSchema = Type.Object({
  path: Type.String(),
  offset: Type.Integer(),
  length: Type.Integer(),
  size: Type.Integer(),
  eof: Type.Boolean(),
  binary: Type.Boolean(),
  encoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')]),
  content: Type.String({ description: 'The bytes: UTF-8 text, or base64 when binary' }),
});

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range). */
function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  if (m[1] === '') return { start: Math.max(0, size - Number(m[2])), end: size - 1 };
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start > end || start >= size ? 'invalid' : { start, end };
}

export function exploreRoutes(app: FastifyInstance, sessions: ExploreSessions): void {
  const use = <T>(id: string, fn: (ex: Explorer) => Promise<T>): Promise<T> =>
    sessions.use(id, fn).catch((err: unknown) => {
      throw apiError(err);
    });

  app.post(
    '/api/v1/explore',
    {
      schema: {
        tags,
        summary: 'Open an explore session on an image (one read-only appliance; closes when idle)',
        body: OpenBody,
        response: { 201: SessionSchema, ...errors(400, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      const body = req.body as
        { image?: { path?: unknown; format?: unknown; checksum?: unknown } } | undefined;
      const image = body?.image;
      if (!image || typeof image !== 'object' || typeof image.path !== 'string' || image.path === '') {
        throw new ValidationError(
          'Invalid field value: image.path - send {"image": {"path": "...", "format": "qcow2"}}',
        );
      }
      for (const f of ['format', 'checksum'] as const) {
        if (image[f] !== undefined && typeof image[f] !== 'string') {
          throw new ValidationError(`Invalid field value: image.${f} - must be a string`);
        }
      }
      const s = await sessions
        .open({
          path: image.path,
          format: image.format as string | undefined,
          checksum: image.checksum as string | undefined,
        })
        .catch((err: unknown) => {
          throw apiError(err);
        });
      return reply.code(201).header('location', `/api/v1/explore/${s.id}`).send(s.info(sessions.ttlMs));
    },
  );

  app.get<{ Params: SessionParams }>(
    '/api/v1/explore/:id',
    {
      schema: {
        tags,
        summary: 'A session',
        params: SessionParams,
        response: { 200: SessionSchema, ...errors(404) },
      },
    },
    async (req) => sessions.get(req.params.id).info(sessions.ttlMs),
  );

  app.get<{
    Params: SessionParams;
    Querystring: {
      path: string;
      offset?: number;
      limit?: number;
      sort?: 'name' | 'size' | 'mtime' | 'type';
      hidden?: boolean;
    };
  }>(
    '/api/v1/explore/:id/ls',
    {
      schema: {
        tags,
        summary: 'List a directory (sorted, paged)',
        params: SessionParams,
        querystring: Type.Composite([
          PathQuery,
          Type.Object({
            offset: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
            sort: Type.Optional(Type.Union(['name', 'size', 'mtime', 'type'].map((s) => Type.Literal(s)))),
            hidden: Type.Optional(Type.Boolean({ default: true, description: 'false: leave out dot files' })),
          }),
        ]),
        response: { 200: ListingSchema, ...errors(400, 404, 410) },
      },
    },
    async (req) => {
      const q = req.query;
      return use(req.params.id, (ex) =>
        ex.ls(q.path, { offset: q.offset, limit: q.limit, sort: q.sort, hideHidden: q.hidden === false }),
      );
    },
  );

  app.get<{ Params: SessionParams; Querystring: { path: string } }>(
    '/api/v1/explore/:id/stat',
    {
      schema: {
        tags,
        summary: 'Stat a file (lstat)',
        params: SessionParams,
        querystring: PathQuery,
        response: { 200: EntrySchema, ...errors(400, 404, 410) },
      },
    },
    async (req) => use(req.params.id, (ex) => ex.stat(req.query.path)),
  );

  app.get<{ Params: SessionParams; Querystring: { path: string; offset?: number; length?: number } }>(
    '/api/v1/explore/:id/read',
    {
      schema: {
        tags,
        summary: 'Read a byte range of a file (text, or base64 for binary)',
        params: SessionParams,
        querystring: Type.Composite([
          PathQuery,
          Type.Object({
            offset: Type.Optional(Type.Integer({ minimum: 0 })),
            length: Type.Optional(Type.Integer({ minimum: 0 })),
          }),
        ]),
        response: { 200: ReadSchema, ...errors(400, 404, 410, 416) },
      },
    },
    async (req) => {
      const r = await use(req.params.id, (ex) =>
        ex.read(req.query.path, { offset: req.query.offset, length: req.query.length }),
      );
      const { data, text, ...rest } = r;
      return text === undefined
        ? { ...rest, encoding: 'base64', content: data.toString('base64') }
        : { ...rest, encoding: 'utf8', content: text };
    },
  );

  app.get<{ Params: SessionParams; Querystring: { path: string } }>(
    '/api/v1/explore/:id/download',
    {
      schema: {
        tags,
        summary: 'Download a file (streamed; Range supported)',
        params: SessionParams,
        querystring: PathQuery,
        response: {
          200: Type.String({ format: 'binary' }),
          206: Type.String({ format: 'binary' }),
          ...errors(400, 404, 410, 416),
        },
      },
    },
    async (req, reply: FastifyReply) => {
      const id = req.params.id;
      const st = await use(id, (ex) => ex.stat(req.query.path));
      const size = st.type === 'symlink' ? undefined : st.size;
      const header = req.headers.range;
      let range: { start: number; end: number } | undefined;
      if (header !== undefined && size !== undefined) {
        const r = parseRange(header, size);
        if (r === 'invalid') {
          reply.header('content-range', `bytes */${size}`);
          throw new ApiError(
            416,
            'RANGE_NOT_SATISFIABLE',
            `Range '${header}' is outside the file (${size} bytes)`,
          );
        }
        range = r;
      }
      const s = sessions.get(id);
      s.enter();
      let d;
      try {
        d = await s.explorer.download(req.query.path, range ?? {});
      } catch (err) {
        if (s.leave()) s.arm(sessions.ttlMs, () => sessions.close(id));
        throw apiError(err);
      }
      // The session stays busy (no expiry) until the stream ends.
      d.stream.once('close', () => {
        if (s.leave()) s.arm(sessions.ttlMs, () => sessions.close(id));
      });
      const name = st.name.replace(/["\\\r\n]/g, '_');
      reply
        .header('content-type', 'application/octet-stream')
        .header(
          'content-disposition',
          `attachment; filename="${name}"; filename*=UTF-8''${encodeURIComponent(st.name)}`,
        )
        .header('accept-ranges', 'bytes')
        .header('content-length', String(d.size === 0 ? 0 : d.end - d.start + 1));
      if (range) reply.code(206).header('content-range', `bytes ${d.start}-${d.end}/${d.size}`);
      return reply.send(d.stream);
    },
  );

  app.get<{ Params: SessionParams; Querystring: { path: string; glob: string; limit?: number } }>(
    '/api/v1/explore/:id/find',
    {
      schema: {
        tags,
        summary: 'Find paths by glob under a directory (bounded)',
        params: SessionParams,
        querystring: Type.Composite([
          PathQuery,
          Type.Object({
            glob: Type.String({ minLength: 1, maxLength: 1000 }),
            limit: Type.Optional(Type.Integer({ minimum: 1 })),
          }),
        ]),
        response: {
          200: Type.Object({
            path: Type.String(),
            glob: Type.String(),
            matches: Type.Array(Type.String()),
            truncated: Type.Boolean(),
          }),
          ...errors(400, 404, 410),
        },
      },
    },
    async (req) =>
      use(req.params.id, (ex) => ex.find(req.query.path, req.query.glob, { limit: req.query.limit })),
  );

  app.get<{
    Params: SessionParams;
    Querystring: { path: string; pattern: string; ignore_case?: boolean; max?: number };
  }>(
    '/api/v1/explore/:id/grep',
    {
      schema: {
        tags,
        summary: 'Lines matching a regular expression in files under a path (bounded)',
        params: SessionParams,
        querystring: Type.Composite([
          PathQuery,
          Type.Object({
            pattern: Type.String({ minLength: 1, maxLength: 1000 }),
            ignore_case: Type.Optional(Type.Boolean()),
            max: Type.Optional(Type.Integer({ minimum: 1 })),
          }),
        ]),
        response: {
          200: Type.Object({
            path: Type.String(),
            pattern: Type.String(),
            matches: Type.Array(
              Type.Object({ path: Type.String(), line: Type.Integer(), text: Type.String() }),
            ),
            filesSearched: Type.Integer(),
            bytesSearched: Type.Integer(),
            truncated: Type.Boolean(),
            stoppedBy: Type.Optional(Type.String()),
          }),
          ...errors(400, 404, 410),
        },
      },
    },
    async (req) =>
      use(req.params.id, (ex) =>
        ex.grep(req.query.path, req.query.pattern, {
          ignoreCase: req.query.ignore_case,
          maxMatches: req.query.max,
        }),
      ),
  );

  app.get<{ Params: SessionParams; Querystring: { path: string; algorithm?: string } }>(
    '/api/v1/explore/:id/checksum',
    {
      schema: {
        tags,
        summary: 'Checksum of a file, computed in the appliance',
        params: SessionParams,
        querystring: Type.Composite([
          PathQuery,
          Type.Object({ algorithm: Type.Optional(Type.String({ default: 'sha256' })) }),
        ]),
        response: {
          200: Type.Object({ path: Type.String(), algorithm: Type.String(), checksum: Type.String() }),
          ...errors(400, 404, 410),
        },
      },
    },
    async (req) => {
      const algorithm = req.query.algorithm ?? 'sha256';
      const checksum = await use(req.params.id, (ex) => ex.checksum(req.query.path, algorithm));
      return { path: req.query.path, algorithm, checksum };
    },
  );

  app.delete<{ Params: SessionParams }>(
    '/api/v1/explore/:id',
    {
      schema: {
        tags,
        summary: 'Close a session (its appliance is killed)',
        params: SessionParams,
        response: { 200: Type.Object({ id: Type.String(), closed: Type.Literal(true) }), ...errors(404) },
      },
    },
    async (req) => {
      sessions.close(req.params.id);
      return { id: req.params.id, closed: true as const };
    },
  );
}

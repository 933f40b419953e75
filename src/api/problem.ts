import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError, problemDocument, type FieldError } from './errors.js';
import { INTENT_TYPES } from '../domain/intent.js';
import { isRedisUnavailable } from '../infra/redis.js';
import type { Logger } from '../observability/logger.js';
import { requestLog } from './request-observer.js';

/**
 * How everything a client sends is parsed (intents, query strings). For a missing field zod
 * says "Invalid input: expected string, received undefined"; this says "required" (with the
 * allowed values, for an enum), and "must be a number" for a query value that does not
 * coerce ("received NaN"). Messages a schema sets itself win over these; zod's own stay for
 * everything else. `reportInput` lets fieldErrors tell a missing `type` from a wrong one.
 */
export const CLIENT_PARSE: z.core.ParseContext<z.core.$ZodIssue> = {
  reportInput: true,
  error(issue) {
    if (issue.input === undefined) {
      const values = issue.code === 'invalid_value' ? issue.values : [];
      return values.length > 0 ? `required: one of ${values.map(String).join(', ')}` : 'required';
    }
    if (issue.code === 'invalid_type' && (issue as { received?: unknown }).received === 'NaN')
      return 'must be a number';
    return undefined;
  },
};

/** Zod issues → the `errors` member of a problem, one entry per offending field. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: at ? `${at}.${key}` : key, message: 'unknown field' });
    } else if (issue.code === 'invalid_union' && issue.path.length <= 1 && 'discriminator' in issue) {
      // The intent's `type` (zod 4 puts the discriminator in the path and the body in `input`).
      const field = String(issue.discriminator);
      const input = issue.input as Record<string, unknown> | null | undefined;
      const missing = input !== null && typeof input === 'object' && input[field] === undefined;
      out.push({ field, message: `${missing ? 'required: one of' : 'must be one of'} ${INTENT_TYPES.join(', ')}` });
    } else {
      out.push({ field: at || '(body)', message: issue.message });
    }
  }
  return out;
}

export function sendProblem(res: Response, err: AppError, requestId: string | undefined): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(err.status).type('application/problem+json').json(problemDocument(err, requestId));
}

/** body-parser's and the router's client errors, mapped to our codes: a 4xx never becomes a 5xx. */
function fromBodyParser(err: { type?: string; message?: string; status?: unknown; expose?: unknown }): AppError | null {
  // The router could not percent-decode a path parameter (e.g. /v1/intents/%E0%A4%A): no such resource.
  const status = err.status;
  if (err instanceof URIError && status === 400) return new AppError('not_found', 'the path cannot be decoded');
  switch (err.type) {
    case 'entity.parse.failed':
      return new AppError('malformed_body', `the body is not valid JSON: ${err.message ?? ''}`.trim(), [
        { field: '(body)', message: 'invalid JSON' },
      ]);
    case 'entity.too.large':
      return new AppError('body_too_large', 'the body is larger than 16 KiB', [
        { field: '(body)', message: 'too large' },
      ]);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('unsupported_media_type', err.message ?? 'unsupported encoding', [
        { field: 'Content-Type', message: 'use application/json in UTF-8' },
      ]);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'parameters.too.many':
      return new AppError('malformed_body', err.message ?? 'the body could not be read', [
        { field: '(body)', message: 'unreadable' },
      ]);
    default:
      // A body that does not inflate (Content-Encoding gzip/deflate/br with other bytes): body-parser's bare 400.
      if (err.expose === true && err.status === 400) {
        return new AppError('malformed_body', 'the body could not be decoded as its Content-Encoding says', [
          { field: '(body)', message: 'undecodable' },
        ]);
      }
      return null;
  }
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `no route for ${req.method} ${req.path}`));
};

/**
 * The one error handler: known errors become their problem; Redis being away
 * becomes a 503 at once; anything else is logged in full and answered as a
 * bare 500 that leaks nothing.
 */
export function errorHandler(opts: { logger: Logger; redisAvailable: () => boolean }): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const requestId = res.locals.requestId as string | undefined;
    const log = res.locals.logger ? requestLog(res) : opts.logger;
    let problem = err instanceof AppError ? err : fromBodyParser(err as { type?: string });
    if (!problem && (!opts.redisAvailable() || isRedisUnavailable(err))) {
      problem = new AppError('unavailable', 'storage is unavailable; retry shortly', [], {
        headers: { 'retry-after': '1' },
      });
      log.warn({ err }, 'request failed: Redis unavailable');
    }
    if (!problem) {
      log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
      problem = new AppError('internal', 'an internal error occurred; it has been logged');
    }
    sendProblem(res, problem, requestId);
  };
}

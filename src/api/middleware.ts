import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * A request id on every response and every log line: the caller's X-Request-Id if sane, else a new one.
 * `res.locals.log` is a child logger bound to the request id and the client; it is made on first
 * use only, since most requests log nothing but their access line (which needs no child).
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    let log: Logger | undefined;
    Object.defineProperty(res.locals, 'log', {
      get: () => (log ??= logger.child(requestBindings(res.locals))),
      enumerable: true,
    });
    res.setHeader('x-request-id', requestId);
    next();
  };
}

const requestBindings = (locals: Record<string, unknown>) =>
  locals.client === undefined ? { requestId: locals.requestId } : { requestId: locals.requestId, client: locals.client };

/** HTTP RED metrics and one access-log line per request, labelled by route pattern (never by raw path). */
export function httpObserver(metrics: Metrics, logger: Logger): RequestHandler {
  // The access line is built here from fixed fields (a route pattern, never a raw path or a header),
  // so it skips the redaction walk, which cost more than the rest of the line under load.
  const access = logger.child({}, { redact: [] });
  return (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      // Express resets baseUrl when a request leaves its router, so the mount path is kept in res.locals.
      const route = req.route ? `${(res.locals.mount as string | undefined) ?? ''}${String(req.route.path)}` : 'unmatched';
      const seconds = (performance.now() - started) / 1000;
      metrics.httpRequests.labels(req.method, route, String(res.statusCode)).inc();
      metrics.httpDuration.labels(req.method, route).observe(seconds);
      const line = { ...requestBindings(res.locals), method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 10_000) / 10, intentId: res.locals.intentId as string | undefined };
      if (res.statusCode >= 500) access.error(line, 'request');
      else access.info(line, 'request');
    });
    next();
  };
}

/** Remembers where a router is mounted, for the route label of metrics and logs. */
export function mountedAt(path: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.mount = path;
    next();
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Finds the client a presented secret belongs to (and, when given, must be named).
 * Keys are compared as SHA-256 digests with timingSafeEqual, against every
 * configured key, so neither the length nor the position of a match shows in the timing.
 */
export function createKeyMatcher(keys: readonly { name: string; secret: string }[]) {
  const known = keys.map((k) => ({ name: k.name, digest: digest(k.secret) }));
  return (secret: string, name: string | null = null): string | undefined => {
    const presented = digest(secret);
    let client: string | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, presented) && (name === null || name === k.name)) client = k.name;
    return client;
  };
}

/** Bearer keys from API_KEYS on /v1. */
export function bearerAuth(keys: readonly { name: string; secret: string }[]): RequestHandler {
  const match = createKeyMatcher(keys);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!bearer?.[1]) {
      next(
        new AppError('unauthorized', 'send Authorization: Bearer <key>', [{ field: 'Authorization', message: 'missing bearer key' }], {
          headers: { 'www-authenticate': 'Bearer realm="holdq"' },
        }),
      );
      return;
    }
    const client = match(bearer[1]);
    if (!client) {
      next(
        new AppError('unauthorized', 'the bearer key is not valid', [{ field: 'Authorization', message: 'unknown key' }], {
          headers: { 'www-authenticate': 'Bearer realm="holdq", error="invalid_token"' },
        }),
      );
      return;
    }
    res.locals.client = client;
    next();
  };
}

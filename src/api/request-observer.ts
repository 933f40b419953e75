import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { fixedFieldLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Every request, observed from outside in one layer: a request id on the response and on
 * every log line (the caller's X-Request-Id if sane, else a new one), HTTP RED metrics
 * and one access-log line, labelled by route pattern (never by raw path).
 */
export function observeRequests(metrics: Metrics, logger: Logger): RequestHandler {
  // The access line is built here from fixed fields (a route pattern, never a raw path or a header).
  const access = fixedFieldLogger(logger);
  const series = metricSeries(metrics);
  return (req, res, next) => {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.locals.logger = logger;
    res.setHeader('x-request-id', requestId);
    res.once('finish', () => {
      // Express resets baseUrl when a request leaves its router, so the mount path is kept in res.locals.
      const route = req.route
        ? `${(res.locals.mount as string | undefined) ?? ''}${String(req.route.path)}`
        : 'unmatched';
      const seconds = (performance.now() - started) / 1000;
      series(req.method, route, res.statusCode).observe(seconds);
      const line = {
        requestId,
        client: res.locals.client as string | undefined,
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
        intentId: res.locals.intentId as string | undefined,
      };
      if (res.statusCode >= 500) access.error(line, 'request');
      else access.info(line, 'request');
    });
    next();
  };
}

/**
 * The request's logger, bound to its request id and client. Made on first use only:
 * most requests log nothing but their access line, which needs no child.
 */
export function requestLog(res: Response): Logger {
  const locals = res.locals as { log?: Logger; logger?: Logger; requestId?: string; client?: string };
  if (!locals.log) {
    const base = locals.logger;
    if (!base) throw new Error('requestLog needs observeRequests in front of the route');
    locals.log = base.child(
      locals.client === undefined
        ? { requestId: locals.requestId }
        : { requestId: locals.requestId, client: locals.client },
    );
  }
  return locals.log;
}

/** The HTTP series of one method, route and status, looked up once and kept (label sets are bounded). */
function metricSeries(metrics: Metrics) {
  const known = new Map<string, { observe(seconds: number): void }>();
  return (method: string, route: string, status: number) => {
    const key = `${method} ${route} ${status}`;
    let s = known.get(key);
    if (!s) {
      const count = metrics.httpRequests.labels(method, route, String(status));
      const duration = metrics.httpDuration.labels(method, route);
      s = {
        observe(seconds) {
          count.inc();
          duration.observe(seconds);
        },
      };
      known.set(key, s);
    }
    return s;
  };
}

/** Remembers where a router is mounted, for the route label of metrics and logs. */
export function mountedAt(path: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.mount = path;
    next();
  };
}

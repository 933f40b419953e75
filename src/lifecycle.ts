import { createServer, type RequestListener, type Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from './observability/logger.js';

/**
 * One shutdown path (graphile-worker's withReleasers): each start step registers
 * how to undo itself; `release` runs them once, newest first, each bounded by
 * the overall deadline, and never lets one failure skip the rest.
 */
export interface Releasers {
  add(name: string, release: () => Promise<void> | void): void;
  release(timeoutMs: number): Promise<void>;
}

export function createReleasers(logger: Logger): Releasers {
  const stack: { name: string; release: () => Promise<void> | void }[] = [];
  let released: Promise<void> | null = null;
  return {
    add(name, release) {
      stack.push({ name, release });
    },
    release(timeoutMs) {
      released ??= (async () => {
        const deadline = Date.now() + timeoutMs;
        while (stack.length > 0) {
          const { name, release } = stack.pop()!;
          const left = Math.max(deadline - Date.now(), 1);
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              Promise.resolve().then(release),
              new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error(`timed out after ${left} ms`)), left);
              }),
            ]);
          } catch (err) {
            logger.error({ err, step: name }, 'shutdown step failed');
          } finally {
            clearTimeout(timer);
          }
        }
      })();
      return released;
    },
  };
}

/**
 * Starts an app's HTTP server (both roles use it; the worker for its ops port). It lives here,
 * not with the API, so the worker does not load the API's modules (bull-board, helmet, the
 * OpenAPI document): each role's heap holds only its own code.
 */
export function listen(app: Express, port: number, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(originFormOnly(app));
    server.once('error', reject);
    server.listen(port, host ?? '::', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Every request reaches the app with an origin-form target (`/path?query`). A client may
 * send the absolute form (`GET http://evil.example/plivo/xml/hold`, RFC 9112 §3.2.2, which a
 * server must accept); Express routes it by its path but keeps the whole URL in req.url and
 * req.originalUrl, so PUBLIC_BASE_URL + originalUrl, the URL a Plivo signature is checked
 * against, was not a URL at all (a 500). Here the absolute form becomes its path and query;
 * a target that is no http(s) URL is answered 400 before any route sees it (Express's router
 * cannot route it, and would answer its own HTML 404). A target that starts with `//` is
 * refused too: no holdq path has an empty first segment, and Express's URL parser reads
 * `//user:pw@host` as an authority with no path, so its router skips every handler and
 * answers HTML.
 */
// Written here, not by the API's error handler (no route can see the request), for the worker's ops port too:
// the same document the API's catalogue gives malformed_request_target (a test holds them equal).
export const MALFORMED_TARGET = JSON.stringify({
  type: 'https://holdq.dev/problems/malformed-request-target',
  title: 'The request target is not a valid URL',
  status: 400,
  detail: 'the request target is neither a path nor an absolute http(s) URL',
  errors: [{ field: '(request-target)', message: 'not a valid URL' }],
});

export function originFormOnly(app: RequestListener): RequestListener {
  return (req, res) => {
    const target = req.url ?? '';
    if ((target.startsWith('/') && !target.startsWith('//')) || target === '*') return app(req, res);
    let url: URL | null = null;
    try {
      url = new URL(target);
    } catch {
      // not a URL: answered below
    }
    if (url && (url.protocol === 'http:' || url.protocol === 'https:')) {
      req.url = `${url.pathname}${url.search}`;
      return app(req, res);
    }
    const body = MALFORMED_TARGET;
    res.writeHead(400, {
      'content-type': 'application/problem+json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      connection: 'close',
    });
    res.end(body);
  };
}

import express, { Router, type Express, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { accountOf, type Config } from '../config.js';
import { DEFAULT_ACCOUNT, plivoMount } from '../domain/account.js';
import type { AccountStores } from '../role-setup.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createOpsRouter, type Readiness } from '../observability/ops-routes.js';
import { XML_MOUNT } from '../domain/xml-links.js';
import { acceptIntentRoute, createIntentRoutes, intentBody } from './intents-routes.js';
import { authenticate, caller, requireRole } from './auth.js';
import { mountedAt, observeRequests } from './request-observer.js';
import { AppError } from './errors.js';
import { errorHandler, notFound } from './problem.js';
import { HOLDQ_VERSION } from '../version.js';
import { ADMIN_PATH, createAdminRouter } from './admin.js';
import { createEventRoutes } from './event-routes.js';
import type { EventHub } from './event-stream.js';
import { createEventsRoutes } from './event-stream-routes.js';
import { createDocsRouter } from './docs.js';
import { buildOpenApi } from './openapi.js';
import { createStateRoutes } from './state-routes.js';
import { plivoSignature } from './plivo-signature-check.js';
import { createXmlRoutes } from './xml-routes.js';
import { createWallboardPage, createWallboardSessionRoutes, SESSION_PATH, wallboardPageDir } from './wallboard.js';
import type { WallboardSessions } from './wallboard-sessions.js';

export interface ApiDeps {
  config: Readonly<Config>;
  /** This API's id, served by /livez. */
  instance: string;
  /** Every account's stores (role-setup.ts); a key's intents, calls and queues are its account's only. */
  accounts: readonly AccountStores[];
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  readiness: Readiness;
  redisAvailable: () => boolean;
  /** The per-key request limit on /v1 (null: off; posting an intent is counted by the accept itself). */
  requestLimit: RequestHandler | null;
  /** True once shutdown has begun: every answer then closes its connection. */
  draining?: () => boolean;
  /** The event stream's hub (one reader per process) and the command connection that catches streams up; without it, no /v1/events. */
  events?: { hub: EventHub; redis: Redis };
  /**
   * The wallboard's sessions (without them, no sign-in and no session cookie on /v1) and the
   * directory of its built page (default: wallboardPageDir(); null: not built).
   */
  wallboard?: { sessions: WallboardSessions; pageDir?: string | null };
}

/**
 * Security headers. Machine-facing answers (JSON, Plivo XML, metrics) get what OWASP's REST
 * Security Cheat Sheet asks of an API and nothing that only matters to a page in a browser:
 * a CSP that forbids all active content and framing, HSTS, nosniff and X-Frame-Options.
 * The two pages people open in a browser, /docs and the admin UI, get helmet's full set.
 */
const apiHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  crossOriginResourcePolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
});
/**
 * /docs is served whole by the API (docs.ts): scripts from 'self' only, no CDN, no fonts or
 * images from elsewhere. Styles stay 'unsafe-inline': Redoc's styled-components write <style>.
 */
const docsHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      workerSrc: ["'self'", 'blob:'],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
});
/**
 * The wallboard is our own page, built by Vite (src/wallboard/): its script and its stylesheet
 * are files from 'self', nothing inline, so the CSP allows no more; it talks to /v1 only.
 */
const wallboardHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'"],
      connectSrc: ["'self'"],
      manifestSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  referrerPolicy: { policy: 'no-referrer' },
});
/** Bull Board's UI brings its own scripts and styles, which the API's CSP would block: helmet's set without a CSP. */
const adminHeaders: RequestHandler[] = [
  (_req, res, next) => {
    res.removeHeader('content-security-policy');
    next();
  },
  helmet({ contentSecurityPolicy: false }),
];

/** The Express app. It never listens: startApi does, so tests can run several in one process. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: API answers are not revalidated, and hashing every body cost a SHA-1 per request.
  app.set('etag', false);
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  app.use(apiHeaders);
  app.use(observeRequests(deps.metrics, deps.logger));
  // While shutting down, every answer asks its client to reconnect (to another replica), and a new
  // intent is refused with a 503 to retry elsewhere: a busy keep-alive connection would otherwise
  // keep this process taking intents until it is killed. Plivo's XML fetches are still served.
  const draining = deps.draining;
  if (draining) {
    app.use((req, res, next) => {
      if (!draining()) return next();
      res.setHeader('connection', 'close');
      if (req.method === 'POST' && req.path === '/v1/intents') {
        return next(
          new AppError('unavailable', 'this holdq API is shutting down; retry, another replica will take it', [], {
            headers: { 'retry-after': '1' },
          }),
        );
      }
      next();
    });
  }
  const { config } = deps;
  // Each account gets its own handlers, built on its own stores; a request goes to its key's
  // account's. Another account's intents, calls and queues are not in the stores a key reaches:
  // 404, never 403, so not even their names leak.
  const accountOfCaller = (res: Response) => accountOf(config, caller(res).client);
  /** The accept handler of the caller's account. */
  const accepts = new Map(
    deps.accounts.map((a) => [a.account.name, acceptIntentRoute({ config, metrics: deps.metrics, ...a })]),
  );
  const accept: RequestHandler = (req, res, next) => {
    const handler = accepts.get(accountOfCaller(res));
    if (!handler) return next(new Error(`no account ${accountOfCaller(res)} (a configuration check missed it)`));
    return handler(req, res, next);
  };
  /** One router per account, each passing over requests of other accounts' keys (its routes stay visible to Express). */
  const routersByAccount = (build: (a: AccountStores) => RequestHandler) => {
    const all = Router();
    for (const a of deps.accounts) {
      const mine = Router();
      mine.use((_req, res, next) => (accountOfCaller(res) === a.account.name ? next() : next('router')));
      mine.use(build(a));
      all.use(mine);
    }
    return all;
  };
  // Posting an intent takes nearly all the traffic, so it comes first, as a route of the app
  // itself (a router mounted at /v1 rewrites and re-parses the URL at every layer), and ahead
  // of the request limiter: the accept script counts intents in its own round trip.
  const sessions = deps.wallboard?.sessions ?? null;
  const auth = authenticate(config.keys, { sessions });
  app.post('/v1/intents', auth, requireRole('write'), intentBody, accept);
  const v1 = Router();
  v1.use(mountedAt('/v1'), auth);
  // A read key may only read; routes that change something check their own role.
  v1.use((req, res, next) =>
    req.method === 'GET' || req.method === 'HEAD' ? next() : requireRole('write')(req, res, next),
  );
  if (deps.requestLimit) v1.use(deps.requestLimit);
  const events = deps.events;
  v1.use(
    routersByAccount((a) =>
      Router().use(
        createIntentRoutes(a),
        createStateRoutes({ config, ...a }),
        ...(events
          ? [
              createEventsRoutes({
                ...events,
                keys: a.keys,
                account: a.account,
                maxStreams: config.EVENTS_MAX_STREAMS,
                maxStreamsPerKey: config.EVENTS_MAX_STREAMS_PER_KEY,
                keepAliveMs: config.EVENTS_KEEPALIVE_SECONDS * 1000,
              }),
            ]
          : []),
      ),
    ),
  );
  // The wallboard's sign-in: ahead of /v1's authentication, which it is the way into.
  if (sessions) app.use(SESSION_PATH, mountedAt(SESSION_PATH), createWallboardSessionRoutes({ config, sessions }));
  app.use('/v1', v1);
  app.use(createOpsRouter(deps.registry, deps.readiness, deps.instance));
  const openapi = JSON.stringify(buildOpenApi({ publicBaseUrl: deps.config.PUBLIC_BASE_URL, version: HOLDQ_VERSION }));
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openapi);
  });
  app.use(createDocsRouter(docsHeaders));
  const pageDir = deps.wallboard?.pageDir;
  app.use(createWallboardPage(pageDir === undefined ? wallboardPageDir() : pageDir, wallboardHeaders));
  // Each account's Plivo routes under its own path, which names the account whose token signs
  // the request; the default account's stay at /plivo, so the others are mounted first.
  const others = deps.accounts.filter((a) => a.account.name !== DEFAULT_ACCOUNT);
  const ordered = [...others, ...deps.accounts.filter((a) => a.account.name === DEFAULT_ACCOUNT)];
  for (const a of ordered) {
    const mount = plivoMount(a.account.name);
    // Route labels of the metrics name the account's part as a parameter (bounded either way).
    const label = a.account.name === DEFAULT_ACCOUNT ? '/plivo' : '/plivo/acct/:account';
    const plivo = Router();
    plivo.use(...plivoSignature(config, a.account.authToken));
    plivo.use(
      XML_MOUNT.slice('/plivo'.length),
      mountedAt(`${label}/xml`),
      createXmlRoutes({ config, metrics: deps.metrics, ...a }),
    );
    plivo.use('/events', mountedAt(`${label}/events`), createEventRoutes({ config, metrics: deps.metrics, ...a }));
    app.use(mount, mountedAt(label), plivo);
  }
  app.use(
    ADMIN_PATH,
    ...adminHeaders,
    mountedAt(ADMIN_PATH),
    authenticate(config.keys, { basic: true, realm: 'holdq admin' }),
    routersByAccount((a) => createAdminRouter({ store: a.store, jobs: a.jobs, others: [a.callbackJobs] })),
  );
  app.use(notFound);
  app.use(errorHandler({ logger: deps.logger, redisAvailable: deps.redisAvailable }));
  return app;
}

import type { Queue } from 'bullmq';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { CallStore } from '../infra/call-state.js';
import type { IntentQueue } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { QueueStore } from '../infra/queue-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createOpsRouter, type Readiness } from '../observability/ops-routes.js';
import { createIntentRoutes } from './intents-routes.js';
import { bearerAuth, httpObserver, mountedAt, requestContext } from './middleware.js';
import { errorHandler, notFound } from './problem.js';
import { HOLDQ_VERSION } from '../version.js';
import { ADMIN_PATH, adminAuth, createAdminRouter } from './admin.js';
import { createEventRoutes } from './event-routes.js';
import { buildOpenApi, DOCS_HTML } from './openapi.js';
import { createStateRoutes } from './state-routes.js';
import { createXmlRoutes, plivoSignature } from './xml-routes.js';

export interface ApiDeps {
  config: Readonly<Config>;
  store: IntentStore;
  calls: CallStore;
  queues: QueueStore;
  queue: IntentQueue;
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  readiness: Readiness;
  redisAvailable: () => boolean;
  /** The job queues Bull Board shows at /admin/queues. */
  adminQueues: Queue[];
  /** Per-client rate limit on /v1 (null: off). */
  rateLimit: RequestHandler | null;
}

/** JSON and XML need no active content: forbid it all. /docs and the admin UI load scripts, so they get their own policy. */
const LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const DOCS_POLICY =
  "default-src 'self'; script-src 'self' https://cdn.redoc.ly blob:; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; font-src https://fonts.gstatic.com; img-src 'self' data: https:; worker-src blob:; frame-ancestors 'none'";

/** The Express app. It never listens: startApi does, so tests can run several in one process. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use((req, res, next) => {
    if (!req.path.startsWith(ADMIN_PATH)) res.setHeader('content-security-policy', req.path === '/docs' ? DOCS_POLICY : LOCKED_DOWN);
    next();
  });
  app.use(requestContext(deps.logger));
  app.use(httpObserver(deps.metrics, deps.logger));
  // The intent API first: it takes nearly all the traffic, and every layer before it costs each request a path match.
  const v1 = [mountedAt('/v1'), bearerAuth(deps.config.API_KEYS), ...(deps.rateLimit ? [deps.rateLimit] : [])];
  app.use('/v1', ...v1, createIntentRoutes(deps), createStateRoutes(deps));
  app.use(createOpsRouter(deps.registry, deps.readiness));
  const openapi = JSON.stringify(buildOpenApi({ publicBaseUrl: deps.config.PUBLIC_BASE_URL, version: HOLDQ_VERSION }));
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openapi);
  });
  app.get('/docs', (_req, res) => {
    res.type('text/html').send(DOCS_HTML);
  });
  app.use('/plivo', mountedAt('/plivo'), ...plivoSignature(deps.config));
  app.use('/plivo/xml', mountedAt('/plivo/xml'), createXmlRoutes(deps));
  app.use('/plivo/events', mountedAt('/plivo/events'), createEventRoutes(deps));
  app.use(ADMIN_PATH, mountedAt(ADMIN_PATH), adminAuth(deps.config.API_KEYS), createAdminRouter(deps.adminQueues));
  app.use(notFound);
  app.use(errorHandler({ logger: deps.logger, redisAvailable: deps.redisAvailable }));
  return app;
}

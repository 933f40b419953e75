import type { Queue } from 'bullmq';
import express, { type Express } from 'express';
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
}

/** The Express app. It never listens: startApi does, so tests can run several in one process. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  app.use(requestContext(deps.logger));
  app.use(httpObserver(deps.metrics));
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
  app.use('/v1', mountedAt('/v1'), bearerAuth(deps.config.API_KEYS), createIntentRoutes(deps), createStateRoutes(deps));
  app.use(notFound);
  app.use(errorHandler({ logger: deps.logger, redisAvailable: deps.redisAvailable }));
  return app;
}

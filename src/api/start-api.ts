import type { Express } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { createCallbackQueue } from '../infra/callback-queue.js';
import { createCallStore } from '../infra/call-state.js';
import { createIntentQueue } from '../infra/intent-queue.js';
import { createIntentStore } from '../infra/intent-store.js';
import { createJobInsert } from '../infra/job-insert.js';
import { createKeys } from '../infra/keys.js';
import { createQueueStore } from '../infra/queue-store.js';
import { closeRedis, createRedis, waitForRedis } from '../infra/redis.js';
import { createReleasers, listen } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import { observeState, type Metrics } from '../observability/metrics.js';
import { createReadiness } from '../observability/readiness.js';
import { createApp } from './app.js';
import { clientRateLimit } from './rate-limit.js';

export interface ApiStartDeps {
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  /** Fill holdq_jobs from this process (true unless a worker in the same process does). */
  observeJobs: boolean;
  /** Overrides config.PORT (tests pass 0). */
  port?: number;
}

export interface StartedApi {
  port: number;
  app: Express;
  stop(): Promise<void>;
}

export async function startApi(config: Readonly<Config>, deps: ApiStartDeps): Promise<StartedApi> {
  const { logger } = deps;
  const releasers = createReleasers(logger);
  let shuttingDown = false;
  const redis = createRedis(config.REDIS_URL, 'command', 'holdq-api', config.REDIS_CLUSTER);
  releasers.add('redis', () => closeRedis(redis));
  redis.on('error', (err) => logger.warn({ err: err.message }, 'api redis connection error'));
  await waitForRedis(redis, 30_000);

  const keys = createKeys(config.QUEUE_PREFIX);
  const queue = createIntentQueue(redis, { prefix: config.QUEUE_PREFIX, attempts: config.TRANSFER_MAX_ATTEMPTS });
  queue.on('error', (err) => logger.warn({ err: err.message }, 'queue error'));
  releasers.add('queue', () => queue.close());
  const callbackQueue = createCallbackQueue(redis, config.QUEUE_PREFIX);
  callbackQueue.on('error', (err) => logger.warn({ err: err.message }, 'callback queue error'));
  releasers.add('callback queue', () => callbackQueue.close());
  const queues = createQueueStore(redis, keys);
  // Queue names of an older holdq move into the index (once; the worker does it too).
  await queues.migrate();
  if (deps.observeJobs) {
    observeState(deps.metrics, { jobCounts: () => queue.getJobCounts(), queues: () => queues.busy(), known: (names) => queues.knownMany(names), onHold: () => redis.zcard(keys.onHold()) });
  }

  const app = createApp({
    config,
    store: createIntentStore(redis, keys, { retentionSeconds: config.INTENT_RETENTION_SECONDS, jobs: createJobInsert(queue) }),
    calls: createCallStore(redis, keys),
    queues,
    queue,
    logger,
    registry: deps.registry,
    metrics: deps.metrics,
    readiness: createReadiness({ redis, simulated: config.simulated, isShuttingDown: () => shuttingDown }),
    redisAvailable: () => redis.status === 'ready',
    adminQueues: [callbackQueue],
    draining: () => shuttingDown,
    rateLimit: config.API_RATE_LIMIT_RPS > 0 ? clientRateLimit({ redis, prefix: config.QUEUE_PREFIX, perSecond: config.API_RATE_LIMIT_RPS }) : null,
  });
  const server = await listen(app, deps.port ?? config.PORT);
  // Longer than the usual load balancer idle timeout, so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  releasers.add('http server', async () => {
    shuttingDown = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive connections close now; busy ones after their answer, which says Connection: close.
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    try {
      await closed;
    } finally {
      clearInterval(idle);
    }
  });
  const port = (server.address() as { port: number }).port;
  logger.info({ port }, 'api listening');

  return {
    port,
    app,
    async stop() {
      shuttingDown = true;
      await releasers.release(config.SHUTDOWN_TIMEOUT_MS);
    },
  };
}

import { randomUUID } from 'node:crypto';
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
import { createRedisOutageLog, redisUrlForLogs, type RedisOutageLog } from '../infra/redis-outage-log.js';
import { readRedisSettings, type RedisSettings } from '../infra/redis-settings.js';
import { createReleasers, listen } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import { observeState, type Metrics } from '../observability/metrics.js';
import { startPublicUrlCheck, type PublicUrlCheck } from '../observability/public-url-check.js';
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
  /** Aborted: a start-up still waiting for Redis gives up at once and releases what it made (a signal during start-up). */
  signal?: AbortSignal;
  /** Shared by the roles of one process, so a Redis outage is one line, not one per role. */
  redisOutage?: RedisOutageLog;
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
  const outage = deps.redisOutage ?? createRedisOutageLog(logger, { url: config.REDIS_URL });
  const redis = createRedis(config.REDIS_URL, 'command', 'holdq-api', config.REDIS_CLUSTER);
  releasers.add('redis', () => closeRedis(redis));
  redis.on('error', outage.connectionError);
  redis.on('ready', outage.ready);
  // A start-up that fails or is stopped releases what it made, so nothing keeps reconnecting.
  const orRelease = <T>(step: Promise<T>) =>
    step.catch(async (err: unknown) => {
      await releasers.release(config.SHUTDOWN_TIMEOUT_MS);
      throw err;
    });
  const waitMs = 30_000;
  await orRelease(waitForRedis(redis, { timeoutMs: waitMs, signal: deps.signal, describe: () => outage.notReady(waitMs) }));
  // appendonly and maxmemory-policy, read once: warned about, shown in /readyz, never fatal.
  let settings: RedisSettings | null = null;
  const settingsRead = readRedisSettings(redis).then((s) => {
    settings = s;
    const redisUrl = redisUrlForLogs(config.REDIS_URL);
    logger.info({ redis: redisUrl, persistence: s.redis_persistence, eviction: s.redis_eviction }, 'Redis settings read');
    for (const warning of s.warnings) logger.warn({ redis: redisUrl }, warning);
  });
  releasers.add('redis settings', () => settingsRead);

  const keys = createKeys(config.QUEUE_PREFIX);
  const queue = createIntentQueue(redis, { prefix: config.QUEUE_PREFIX, attempts: config.TRANSFER_MAX_ATTEMPTS });
  queue.on('error', (err) => outage.report('queue', err));
  releasers.add('queue', () => queue.close());
  const callbackQueue = createCallbackQueue(redis, config.QUEUE_PREFIX);
  callbackQueue.on('error', (err) => outage.report('callback queue', err));
  releasers.add('callback queue', () => callbackQueue.close());
  const queues = createQueueStore(redis, keys);
  // Queue names of an older holdq move into the index (once; the worker does it too).
  await queues.migrate();
  if (deps.observeJobs) {
    observeState(deps.metrics, { jobCounts: () => queue.getJobCounts(), queues: () => queues.busy(), known: (names) => queues.knownMany(names), onHold: () => redis.zcard(keys.onHold()) });
  }

  const instance = randomUUID();
  let publicUrlCheck: PublicUrlCheck | null = null;
  const advisories = () => ({
    redis_persistence: settings?.redis_persistence ?? 'checking',
    redis_eviction: settings?.redis_eviction ?? 'checking',
    ...(publicUrlCheck ? { public_base_url: publicUrlCheck.status() } : {}),
  });
  const app = createApp({
    config,
    instance,
    store: createIntentStore(redis, keys, { retentionSeconds: config.INTENT_RETENTION_SECONDS, jobs: createJobInsert(queue) }),
    calls: createCallStore(redis, keys),
    queues,
    queue,
    logger,
    registry: deps.registry,
    metrics: deps.metrics,
    readiness: createReadiness({ redis, simulated: config.simulated, isShuttingDown: () => shuttingDown, advisories }),
    redisAvailable: () => redis.status === 'ready',
    adminQueues: [callbackQueue],
    draining: () => shuttingDown,
    rateLimit: config.API_RATE_LIMIT_RPS > 0 ? clientRateLimit({ redis, prefix: config.QUEUE_PREFIX, perSecond: config.API_RATE_LIMIT_RPS }) : null,
  });
  const server = await orRelease(listen(app, deps.port ?? config.PORT));
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
  if (config.PUBLIC_BASE_URL_CHECK) {
    // Once listening, the API should reach itself (or a replica) there; it says so at once if not.
    const check = startPublicUrlCheck({ baseUrl: config.PUBLIC_BASE_URL, instance, listening: `:${port}`, attempts: 6, warnAfter: 1, logger });
    publicUrlCheck = check;
    releasers.add('public url check', () => {
      check.stop();
      return check.done;
    });
  }

  return {
    port,
    app,
    async stop() {
      shuttingDown = true;
      await releasers.release(config.SHUTDOWN_TIMEOUT_MS);
    },
  };
}

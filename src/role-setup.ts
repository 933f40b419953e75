import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { createCallbackQueue, type CallbackRetry } from './infra/callback-queue.js';
import { createIntentJobs, type IntentJobs } from './infra/intent-queue.js';
import { createKeys, type Keys } from './infra/keys.js';
import type { QueueStore } from './infra/queue-store.js';
import { closeRedis, createRedis, waitForRedis, type RedisRole } from './infra/redis.js';
import { createRedisOutageLog, redisUrlForLogs, type RedisOutageLog } from './infra/redis-outage-log.js';
import { readRedisSettings, type RedisSettings } from './infra/redis-settings.js';
import { createReleasers, type Releasers } from './lifecycle.js';
import type { Logger } from './observability/logger.js';
import { observeState, type Metrics } from './observability/metrics.js';
import type { PublicUrlCheck } from './observability/public-url-check.js';

/** How long a role waits for Redis at start-up before it gives up (and says what to do). */
export const REDIS_START_WAIT_MS = 30_000;

/**
 * What the API and the worker set up alike (docs/architecture.md, "The parts"): their Redis
 * connections under one outage log, waited for at start-up; the job queues; the Redis settings
 * read once and warned about; the point-in-time gauges. Every step registers how it is undone,
 * and a start-up that fails or is stopped (a signal while Redis is away) releases what it made,
 * so nothing keeps reconnecting.
 */
export interface RoleSetup {
  readonly releasers: Releasers;
  readonly outage: RedisOutageLog;
  readonly keys: Keys;
  /** Awaits a start-up step; if it fails, releases what was made and rethrows. */
  step<T>(promise: Promise<T>): Promise<T>;
  /** Opens Redis connections (a role and a name each) and waits until all are ready (or the start is stopped). */
  connect(...connections: [role: RedisRole, name: string][]): Promise<Redis[]>;
  /** The intent jobs' and completion callbacks' BullMQ queues on `connection`. */
  openJobQueues(
    connection: Redis,
    callbacks?: CallbackRetry,
  ): { jobs: IntentJobs; callbackJobs: ReturnType<typeof createCallbackQueue> };
  /** Reads appendonly and maxmemory-policy once, logs them and warns once about wrong ones. */
  watchRedisSettings(redis: Redis): () => RedisSettings | null;
  /** The advisory lines of /readyz: Redis settings and, once it runs, the PUBLIC_BASE_URL check. */
  advisories(settings: () => RedisSettings | null, check: () => PublicUrlCheck | null): () => Record<string, string>;
  /** Fills the job, queue and on-hold gauges from this process at scrape time. */
  observe(metrics: Metrics, jobs: IntentJobs, queues: QueueStore, redis: Redis): void;
  release(): Promise<void>;
}

export function createRoleSetup(
  config: Readonly<Config>,
  deps: { logger: Logger; signal?: AbortSignal | undefined; redisOutage?: RedisOutageLog | undefined },
): RoleSetup {
  const { logger } = deps;
  const releasers = createReleasers(logger);
  // One outage log for all of a role's connections, queues and workers: one line per outage, not one per retry.
  const outage = deps.redisOutage ?? createRedisOutageLog(logger, { url: config.REDIS_URL });
  const release = () => releasers.release(config.SHUTDOWN_TIMEOUT_MS);
  const keys = createKeys(config.QUEUE_PREFIX);
  const step = <T>(promise: Promise<T>) =>
    promise.catch(async (err: unknown) => {
      await release();
      throw err;
    });
  return {
    releasers,
    outage,
    keys,
    step,
    release,
    async connect(...connections) {
      const clients = connections.map(([role, name]) => {
        const redis = createRedis(config.REDIS_URL, role, name, config.REDIS_CLUSTER);
        releasers.add(`redis ${name}`, () => closeRedis(redis));
        redis.on('error', outage.connectionError);
        redis.on('ready', outage.ready);
        return redis;
      });
      const wait = {
        timeoutMs: REDIS_START_WAIT_MS,
        signal: deps.signal,
        describe: () => outage.notReady(REDIS_START_WAIT_MS),
      };
      await step(Promise.all(clients.map((redis) => waitForRedis(redis, wait))));
      return clients;
    },
    openJobQueues(connection, callbacks) {
      const jobs = createIntentJobs(connection, {
        prefix: config.QUEUE_PREFIX,
        attempts: config.TRANSFER_MAX_ATTEMPTS,
      });
      // Without a listener BullMQ prints every connection error of a queue with its stack.
      jobs.on('error', (err) => outage.report('queue', err));
      releasers.add('intent jobs', () => jobs.close());
      const callbackJobs = createCallbackQueue(connection, config.QUEUE_PREFIX, callbacks);
      callbackJobs.on('error', (err) => outage.report('callback queue', err));
      releasers.add('callback jobs', () => callbackJobs.close());
      return { jobs, callbackJobs };
    },
    watchRedisSettings(redis) {
      let settings: RedisSettings | null = null;
      const read = readRedisSettings(redis).then((s) => {
        settings = s;
        const url = redisUrlForLogs(config.REDIS_URL);
        logger.info(
          { redis: url, persistence: s.redis_persistence, eviction: s.redis_eviction },
          'Redis settings read',
        );
        for (const warning of s.warnings) logger.warn({ redis: url }, warning);
      });
      releasers.add('redis settings', () => read);
      return () => settings;
    },
    advisories(settings, check) {
      return () => {
        const s = settings();
        const c = check();
        return {
          redis_persistence: s?.redis_persistence ?? 'checking',
          redis_eviction: s?.redis_eviction ?? 'checking',
          ...(c ? { public_base_url: c.status() } : {}),
        };
      };
    },
    observe(metrics, jobs, queues, redis) {
      observeState(metrics, {
        jobCounts: () => jobs.getJobCounts(),
        queues: () => queues.busy(),
        known: (names) => queues.knownMany(names),
        onHold: () => redis.zcard(keys.onHold()),
      });
    },
  };
}

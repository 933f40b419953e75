import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { accountNamespace, accountQueueName, type PlivoAccount } from './domain/account.js';
import { createCallbackQueue, CALLBACK_QUEUE, type CallbackRetry } from './infra/callback-queue.js';
import { createCallStore, type CallStore } from './infra/call-state.js';
import { createCallbackStore, type CallbackStore } from './infra/callback-store.js';
import { createIntentJobs, INTENT_QUEUE, type IntentJobs } from './infra/intent-queue.js';
import { createIntentStore, type IntentStore } from './infra/intent-store.js';
import { createJobInsert } from './infra/job-insert.js';
import { resolveQueue } from './domain/queue-config.js';
import { createHeldCalls, type HeldCalls } from './infra/held-calls.js';
import { createKeys, type Keys } from './infra/keys.js';
import { createQueueStore, type QueueStore } from './infra/queue-store.js';
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
/**
 * One Plivo account's part of holdq (domain/account.ts): its keys under its namespace, its job
 * queues, its intent records, calls and queues. The API and the worker each open one per account.
 */
export interface AccountStores {
  account: PlivoAccount;
  keys: Keys;
  jobs: IntentJobs;
  callbackJobs: ReturnType<typeof createCallbackQueue>;
  store: IntentStore;
  calls: CallStore;
  /** Call-me-back members (SPEC §10). */
  callbacks: CallbackStore;
  queues: QueueStore;
  /** The account's calls on hold, page by page (GET /v1/calls?state=held). */
  held: HeldCalls;
}

export interface RoleSetup {
  readonly releasers: Releasers;
  readonly outage: RedisOutageLog;
  /** Awaits a start-up step; if it fails, releases what was made and rethrows. */
  step<T>(promise: Promise<T>): Promise<T>;
  /** Opens Redis connections (a role and a name each) and waits until all are ready (or the start is stopped). */
  connect(...connections: [role: RedisRole, name: string][]): Promise<Redis[]>;
  /**
   * Every account's stores: its BullMQ queues (intent jobs and completion callbacks) on `jobs`,
   * its records, calls and queues on `state` (the same connection, in the API).
   */
  openAccounts(connections: { jobs: Redis; state: Redis }, callbacks?: CallbackRetry): AccountStores[];
  /** Reads appendonly and maxmemory-policy once, logs them and warns once about wrong ones. */
  watchRedisSettings(redis: Redis): () => RedisSettings | null;
  /** The advisory lines of /readyz: Redis settings and, once it runs, the PUBLIC_BASE_URL check. */
  advisories(settings: () => RedisSettings | null, check: () => PublicUrlCheck | null): () => Record<string, string>;
  /** Fills every account's job, queue and on-hold gauges from this process at scrape time. */
  observe(metrics: Metrics, accounts: readonly AccountStores[], redis: Redis): void;
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
  const step = <T>(promise: Promise<T>) =>
    promise.catch(async (err: unknown) => {
      await release();
      throw err;
    });
  return {
    releasers,
    outage,
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
    openAccounts(connections, callbacks) {
      return config.accounts.map((account) => {
        const keys = createKeys(accountNamespace(config.QUEUE_PREFIX, account.name), config.EVENTS_RETENTION);
        const jobs = createIntentJobs(connections.jobs, {
          prefix: config.QUEUE_PREFIX,
          attempts: config.TRANSFER_MAX_ATTEMPTS,
          name: accountQueueName(INTENT_QUEUE, account.name),
        });
        // Without a listener BullMQ prints every connection error of a queue with its stack.
        jobs.on('error', (err) => outage.report('queue', err));
        releasers.add(`intent jobs (${account.name})`, () => jobs.close());
        const callbackJobs = createCallbackQueue(
          connections.jobs,
          config.QUEUE_PREFIX,
          callbacks,
          accountQueueName(CALLBACK_QUEUE, account.name),
        );
        callbackJobs.on('error', (err) => outage.report('callback queue', err));
        releasers.add(`callback jobs (${account.name})`, () => callbackJobs.close());
        const state = connections.state;
        return {
          account,
          keys,
          jobs,
          callbackJobs,
          store: createIntentStore(state, keys, {
            retentionSeconds: config.INTENT_RETENTION_SECONDS,
            jobs: createJobInsert(jobs),
          }),
          calls: createCallStore(state, keys),
          callbacks: createCallbackStore(state, keys),
          held: createHeldCalls(state, keys),
          queues: createQueueStore(state, keys, {
            statsWindow: (name) => ({
              windowSeconds: config.STATS_WINDOW_SECONDS,
              thresholdSeconds: resolveQueue(config.QUEUES, name, config.HOLD_MUSIC_URL).service_level_seconds,
            }),
          }),
        };
      });
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
    observe(metrics, accounts, redis) {
      observeState(
        metrics,
        accounts.map(({ account, jobs, queues, keys }) => ({
          account: account.name,
          jobCounts: () => jobs.getJobCounts(),
          queues: () => queues.busy(),
          known: (names: readonly string[]) => queues.knownMany(names),
          onHold: () => redis.zcard(keys.onHold()),
          async stats(name: string) {
            const st = await queues.stats(name);
            return {
              estimated_wait_seconds: st.estimated_wait_seconds,
              service_level: st.service_level.ratio,
              service_level_target: resolveQueue(config.QUEUES, name, config.HOLD_MUSIC_URL).service_level_target,
            };
          },
        })),
      );
    },
  };
}

import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Worker, type Job } from 'bullmq';
import express from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { createXmlLinks } from '../domain/transfers.js';
import { createCallStore } from '../infra/call-state.js';
import { createIntentQueue, INTENT_QUEUE, type IntentJobData, type JobData, type OverflowJobData } from '../infra/intent-queue.js';
import { createQueueStore } from '../infra/queue-store.js';
import { createIntentStore } from '../infra/intent-store.js';
import { createJobInsert } from '../infra/job-insert.js';
import { createKeys } from '../infra/keys.js';
import { createPlivoClient } from '../infra/plivo-client.js';
import { createPlivoPacer } from '../infra/plivo-pacer.js';
import { closeRedis, createRedis, waitForRedis } from '../infra/redis.js';
import { createRedisOutageLog, redisUrlForLogs, type RedisOutageLog } from '../infra/redis-outage-log.js';
import { readRedisSettings, type RedisSettings } from '../infra/redis-settings.js';
import { createReleasers, listen } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import { observeState, type Metrics } from '../observability/metrics.js';
import { createOpsRouter } from '../observability/ops-routes.js';
import { startPublicUrlCheck, type PublicUrlCheck } from '../observability/public-url-check.js';
import { createReadiness } from '../observability/readiness.js';
import { createCallbackQueue, scheduleCallback, type CallbackRetry } from '../infra/callback-queue.js';
import type { Resolve } from '../infra/public-address.js';
import { startCallbackWorker } from './callbacks.js';
import { createFailedJobHandler } from './failed-jobs.js';
import { startJobSweeper, SWEEP_INTERVAL_MS } from './job-sweeper.js';
import { startQueueJanitor } from './queue-janitor.js';
import { createOverflowHandler } from './overflow.js';
import { createIntentProcessor, REVIVE_GRACE_MS, transferBackoff } from './process-intent.js';

export interface WorkerDeps {
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  /** Where Plivo is: the real API, or a simulator. */
  plivo: { baseUrl: string; authId: string; authToken: string };
  /** Serve /livez /readyz /metrics on this port (a lone worker); null when the API serves them. */
  opsPort: number | null;
  /** How BullMQ detects a lost worker, and how soon an unfinished intent is mended (tests shorten them). */
  timing?: Partial<WorkerTiming>;
  /** Completion-callback delivery: fewer or faster attempts, and the DNS its SSRF guard asks (tests set these). */
  callbacks?: CallbackRetry & { resolve?: Resolve };
  /** Aborted: a start-up still waiting for Redis gives up at once and releases what it made (a signal during start-up). */
  signal?: AbortSignal;
  /** Shared by the roles of one process, so a Redis outage is one line, not one per role. */
  redisOutage?: RedisOutageLog;
}

export interface WorkerTiming {
  /** How long a job's BullMQ lock lasts without renewal: a worker silent this long is lost. */
  lockDurationMs: number;
  /** How often each worker looks for jobs whose lock has lapsed. */
  stalledIntervalMs: number;
  /** Times a job may be found stalled and run again before BullMQ fails it. */
  maxStalledCount: number;
  sweepIntervalMs: number;
  reviveGraceMs: number;
}

/**
 * Plivo requests time out long before a lock would lapse, so a stall means a lost worker (or an
 * event loop blocked for that long). A job survives two stalls; the third fails it, and `revive`
 * then finishes its intent.
 */
function workerTiming(config: Readonly<Config>, overrides: Partial<WorkerTiming> = {}): WorkerTiming {
  return {
    lockDurationMs: Math.max(30_000, 4 * config.PLIVO_TIMEOUT_MS),
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    sweepIntervalMs: SWEEP_INTERVAL_MS,
    reviveGraceMs: REVIVE_GRACE_MS,
    ...overrides,
  };
}

export interface StartedWorker {
  opsPort: number | null;
  worker: Worker<JobData>;
  /** Runs the sweep of unfinished intents now; returns how many it put back on their way. */
  sweep(): Promise<number>;
  /** Forgets idle on-demand queues now; returns how many. */
  tidyQueues(): Promise<number>;
  stop(): Promise<void>;
}

export async function startWorker(config: Readonly<Config>, deps: WorkerDeps): Promise<StartedWorker> {
  const { logger, metrics } = deps;
  const timing = workerTiming(config, deps.timing);
  const releasers = createReleasers(logger);
  let shuttingDown = false;
  // One outage log for all of the role's connections, queues and workers: one line per outage, not one per retry.
  const outage = deps.redisOutage ?? createRedisOutageLog(logger, { url: config.REDIS_URL });
  const redis = createRedis(config.REDIS_URL, 'worker', 'holdq-worker', config.REDIS_CLUSTER);
  releasers.add('redis', () => closeRedis(redis));
  redis.on('error', outage.connectionError);
  redis.on('ready', outage.ready);
  const state = createRedis(config.REDIS_URL, 'state', 'holdq-worker-state', config.REDIS_CLUSTER);
  releasers.add('state redis', () => closeRedis(state));
  state.on('error', outage.connectionError);
  state.on('ready', outage.ready);
  // A start-up that fails or is stopped releases what it made, so nothing keeps reconnecting.
  const orRelease = <T>(step: Promise<T>) =>
    step.catch(async (err: unknown) => {
      await releasers.release(config.SHUTDOWN_TIMEOUT_MS);
      throw err;
    });
  const waitMs = 30_000;
  const wait = { timeoutMs: waitMs, signal: deps.signal, describe: () => outage.notReady(waitMs) };
  await orRelease(Promise.all([waitForRedis(redis, wait), waitForRedis(state, wait)]));

  const keys = createKeys(config.QUEUE_PREFIX);
  const queue = createIntentQueue(redis, { prefix: config.QUEUE_PREFIX, attempts: config.TRANSFER_MAX_ATTEMPTS });
  releasers.add('queue', () => queue.close());
  queue.on('error', (err) => outage.report('queue', err));
  const plivo = createPlivoClient({ ...deps.plivo, timeoutMs: config.PLIVO_TIMEOUT_MS, maxSockets: config.WORKER_CONCURRENCY * 2 });
  releasers.add('plivo client', () => plivo.close());

  observeState(metrics, { jobCounts: () => queue.getJobCounts(), queues: () => queues.busy(), known: (names) => queues.knownMany(names), onHold: () => state.zcard(keys.onHold()) });
  // The ops server closes last, so /readyz answers 503 while the worker drains.
  let opsPort: number | null = null;
  if (deps.opsPort !== null) {
    const app = express();
    app.disable('x-powered-by');
    // A lone worker serves its own /readyz, so it checks PUBLIC_BASE_URL itself, quietly retrying
    // for about 30 s since the API may start after it (in one process, the API checks).
    let check: PublicUrlCheck | null = null;
    // appendonly and maxmemory-policy, read once: warned about, shown in /readyz, never fatal.
    let settings: RedisSettings | null = null;
    const settingsRead = readRedisSettings(state).then((s) => {
      settings = s;
      const redisUrl = redisUrlForLogs(config.REDIS_URL);
    logger.info({ redis: redisUrl, persistence: s.redis_persistence, eviction: s.redis_eviction }, 'Redis settings read');
    for (const warning of s.warnings) logger.warn({ redis: redisUrl }, warning);
    });
    releasers.add('redis settings', () => settingsRead);
    const advisories = () => ({
      redis_persistence: settings?.redis_persistence ?? 'checking',
      redis_eviction: settings?.redis_eviction ?? 'checking',
      ...(check ? { public_base_url: check.status() } : {}),
    });
    app.use(createOpsRouter(deps.registry, createReadiness({ redis, simulated: config.simulated, isShuttingDown: () => shuttingDown, advisories }), randomUUID()));
    const server: Server = await orRelease(listen(app, deps.opsPort));
    opsPort = (server.address() as { port: number }).port;
    releasers.add('ops server', () => new Promise<void>((resolve) => server.close(() => resolve())));
    if (config.PUBLIC_BASE_URL_CHECK) {
      const started = startPublicUrlCheck({ baseUrl: config.PUBLIC_BASE_URL, instance: null, attempts: 6, warnAfter: 6, logger });
      check = started;
      releasers.add('public url check', () => {
        started.stop();
        return started.done;
      });
    }
  }

  const store = createIntentStore(state, keys, { retentionSeconds: config.INTENT_RETENTION_SECONDS, jobs: createJobInsert(queue) });
  const calls = createCallStore(state, keys);
  const queues = createQueueStore(state, keys);
  const callbackQueue = createCallbackQueue(redis, config.QUEUE_PREFIX, deps.callbacks);
  // Without a listener BullMQ prints every connection error of the queue with its stack.
  callbackQueue.on('error', (err) => outage.report('callback queue', err));
  releasers.add('callback queue', () => callbackQueue.close());
  const callbackWorker = startCallbackWorker({
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    store,
    secret: config.CALLBACK_SECRET,
    allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
    resolve: deps.callbacks?.resolve,
    timeoutMs: config.PLIVO_TIMEOUT_MS,
    metrics,
    logger,
    onError: (err) => outage.report('callback worker', err),
  });
  // With Redis away, in-flight jobs cannot finish (they end by writing to Redis): waiting for them
  // would wait out SHUTDOWN_TIMEOUT_MS for nothing. Closing without waiting leaves their locks to
  // lapse, and another worker runs them again (at least once, README "What holdq guarantees").
  const redisAway = () => redis.status !== 'ready' || state.status !== 'ready';
  releasers.add('callback worker', () => callbackWorker.close(redisAway()));

  const processor = createIntentProcessor({
    config,
    store,
    calls,
    queues,
    queue,
    onFinished: (record) => scheduleCallback(callbackQueue, record),
    plivo,
    // A request unanswered for its whole timeout can no longer arrive at Plivo.
    pacer: createPlivoPacer(state, keys.plivoRate(), config.PLIVO_MAX_RPS, { holdMs: config.PLIVO_TIMEOUT_MS + 1000 }),
    links: createXmlLinks(config.PUBLIC_BASE_URL),
    metrics,
    logger,
    reviveGraceMs: timing.reviveGraceMs,
  });

  const overflow = createOverflowHandler({ store, calls, metrics, logger });

  const worker = new Worker<JobData>(
    INTENT_QUEUE,
    (job, token) => (job.name === 'overflow' ? overflow(job.data as OverflowJobData) : processor(job as Job<IntentJobData>, token)),
    {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    settings: { backoffStrategy: transferBackoff(config.TRANSFER_BACKOFF_MS) },
    lockDuration: timing.lockDurationMs,
    stalledInterval: timing.stalledIntervalMs,
    maxStalledCount: timing.maxStalledCount,
    autorun: false,
    },
  );
  worker.on('error', (err) => outage.report('worker', err));
  const failed = createFailedJobHandler((job, err) => processor.onJobFailed(job as Job<IntentJobData> | undefined, err), logger);
  worker.on('failed', failed.onFailed);
  await queues.migrate();
  const janitor = startQueueJanitor({ queues, idleSeconds: config.QUEUE_IDLE_SECONDS, configured: Object.keys(config.QUEUES), logger });
  releasers.add('queue janitor', () => janitor.stop(!redisAway()));
  const sweeper = startJobSweeper({ store, revive: processor.revive, logger, intervalMs: timing.sweepIntervalMs, graceMs: timing.reviveGraceMs });
  releasers.add('job sweeper', () => sweeper.stop(!redisAway()));
  releasers.add('worker', async () => {
    shuttingDown = true;
    await worker.close(redisAway());
    // Jobs that failed while the worker drained still get their intents finished, before Redis
    // closes (with Redis away they could not: the sweeper of a later worker will).
    if (!redisAway()) await failed.settled();
  });

  void worker.run().catch((err: unknown) => logger.error({ err }, 'worker stopped'));
  await worker.waitUntilReady();
  logger.info({ concurrency: config.WORKER_CONCURRENCY, opsPort, maxRps: config.PLIVO_MAX_RPS }, 'worker started');

  return {
    opsPort,
    worker,
    sweep: () => sweeper.sweep(),
    tidyQueues: () => janitor.tidy(),
    async stop() {
      shuttingDown = true;
      await releasers.release(config.SHUTDOWN_TIMEOUT_MS);
    },
  };
}

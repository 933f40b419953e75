import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { createXmlLinks } from '../domain/xml-links.js';
import { scheduleCallback, type CallbackRetry } from '../infra/callback-queue.js';
import { createCallStore } from '../infra/call-state.js';
import {
  INTENT_QUEUE,
  OVERFLOW_JOB,
  type IntentJobData,
  type JobData,
  type OverflowJobData,
} from '../infra/intent-queue.js';
import { createIntentStore } from '../infra/intent-store.js';
import { createJobInsert } from '../infra/job-insert.js';
import { createPlivoClient } from '../infra/plivo-client.js';
import { createPlivoPacer } from '../infra/plivo-pacer.js';
import type { Resolve } from '../infra/public-address.js';
import { createQueueStore } from '../infra/queue-store.js';
import type { RedisOutageLog } from '../infra/redis-outage-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { startOpsServer } from '../observability/ops-server.js';
import { startPublicUrlCheck, type PublicUrlCheck } from '../observability/public-url-check.js';
import { createReadiness } from '../observability/readiness.js';
import { createRoleSetup } from '../role-setup.js';
import { startCallbackWorker } from './callbacks.js';
import { createFailedJobHandler } from './failed-jobs.js';
import { REVIVE_GRACE_MS } from './intent-repair.js';
import { startJobSweeper, SWEEP_INTERVAL_MS } from './job-sweeper.js';
import { createOverflowHandler } from './overflow.js';
import { createIntentProcessor } from './process-intent.js';
import { startQueueJanitor } from './queue-janitor.js';
import { transferBackoff } from './transfer-backoff.js';

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
  const role = createRoleSetup(config, deps);
  const { releasers, outage, keys } = role;
  let shuttingDown = false;
  // BullMQ's connection (blocking calls wait out an outage) and holdq's own (records, call state,
  // the pacer: pipelined automatically, and BullMQ's scripts are not copied onto its MULTIs).
  const [redis, state] = (await role.connect(['worker', 'holdq-worker'], ['state', 'holdq-worker-state'])) as [
    Redis,
    Redis,
  ];
  // With Redis away, in-flight jobs cannot finish (they end by writing to Redis): waiting for them
  // would wait out SHUTDOWN_TIMEOUT_MS for nothing. Closing without waiting leaves their locks to
  // lapse, and another worker runs them again (at least once, README "What holdq guarantees").
  const redisAway = () => redis.status !== 'ready' || state.status !== 'ready';

  const { jobs, callbackJobs } = role.openJobQueues(redis, deps.callbacks);
  const plivo = createPlivoClient({
    ...deps.plivo,
    timeoutMs: config.PLIVO_TIMEOUT_MS,
    maxSockets: config.WORKER_CONCURRENCY * 2,
  });
  releasers.add('plivo client', () => plivo.close());
  const store = createIntentStore(state, keys, {
    retentionSeconds: config.INTENT_RETENTION_SECONDS,
    jobs: createJobInsert(jobs),
  });
  const calls = createCallStore(state, keys);
  const queues = createQueueStore(state, keys);
  role.observe(metrics, jobs, queues, state);

  let opsPort: number | null = null;
  if (deps.opsPort !== null) {
    // A lone worker serves its own /readyz, so it reads the Redis settings and checks
    // PUBLIC_BASE_URL itself, quietly retrying for about 30 s since the API may start after it
    // (in one process, the API does both).
    const settings = role.watchRedisSettings(state);
    let check: PublicUrlCheck | null = null;
    const readiness = createReadiness({
      redis,
      simulated: config.simulated,
      isShuttingDown: () => shuttingDown,
      advisories: role.advisories(settings, () => check),
    });
    const ops = await role.step(
      startOpsServer({ port: deps.opsPort, registry: deps.registry, readiness, instance: randomUUID() }),
    );
    opsPort = ops.port;
    releasers.add('ops server', ops.close);
    if (config.PUBLIC_BASE_URL_CHECK) {
      const started = startPublicUrlCheck({
        baseUrl: config.PUBLIC_BASE_URL,
        instance: null,
        attempts: 6,
        warnAfter: 6,
        logger,
      });
      check = started;
      releasers.add('public url check', () => {
        started.stop();
        return started.done;
      });
    }
  }

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
  releasers.add('callback worker', () => callbackWorker.close(redisAway()));

  const processor = createIntentProcessor({
    config,
    store,
    calls,
    queues,
    jobs,
    onFinished: (record) => scheduleCallback(callbackJobs, record),
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
    (job, token) =>
      job.name === OVERFLOW_JOB ? overflow(job.data as OverflowJobData) : processor(job as Job<IntentJobData>, token),
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
  const failed = createFailedJobHandler(
    (job, err) => processor.onJobFailed(job as Job<IntentJobData> | undefined, err),
    logger,
  );
  worker.on('failed', failed.onFailed);
  await role.step(queues.migrate());
  const janitor = startQueueJanitor({
    queues,
    idleSeconds: config.QUEUE_IDLE_SECONDS,
    configured: Object.keys(config.QUEUES),
    logger,
  });
  releasers.add('queue janitor', () => janitor.stop(!redisAway()));
  const sweeper = startJobSweeper({
    store,
    revive: processor.revive,
    logger,
    intervalMs: timing.sweepIntervalMs,
    graceMs: timing.reviveGraceMs,
  });
  releasers.add('job sweeper', () => sweeper.stop(!redisAway()));
  releasers.add('worker', async () => {
    shuttingDown = true;
    await worker.close(redisAway());
    // Jobs that failed while the worker drained still get their intents finished, before Redis
    // closes (with Redis away they could not: the sweeper of a later worker will).
    if (!redisAway()) await failed.settled();
  });

  void worker.run().catch((err: unknown) => logger.error({ err }, 'worker stopped'));
  await role.step(worker.waitUntilReady());
  logger.info({ concurrency: config.WORKER_CONCURRENCY, opsPort, maxRps: config.PLIVO_MAX_RPS }, 'worker started');

  return {
    opsPort,
    worker,
    sweep: () => sweeper.sweep(),
    tidyQueues: () => janitor.tidy(),
    async stop() {
      shuttingDown = true;
      await role.release();
    },
  };
}

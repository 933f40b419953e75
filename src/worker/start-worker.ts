import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { DEFAULT_ACCOUNT, plivoMount } from '../domain/account.js';
import { createXmlLinks } from '../domain/xml-links.js';
import { scheduleCallback, type CallbackRetry } from '../infra/callback-queue.js';
import { OVERFLOW_JOB, type IntentJobData, type JobData, type OverflowJobData } from '../infra/intent-queue.js';
import { createPlivoClient } from '../infra/plivo-client.js';
import { createPlivoPacer } from '../infra/plivo-pacer.js';
import type { Resolve } from '../infra/public-address.js';
import type { RedisOutageLog } from '../infra/redis-outage-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { startOpsServer } from '../observability/ops-server.js';
import { startPublicUrlCheck, type PublicUrlCheck } from '../observability/public-url-check.js';
import { createReadiness } from '../observability/readiness.js';
import { createRoleSetup, type AccountStores, type RoleSetup } from '../role-setup.js';
import { startCallbackWorker } from './callbacks.js';
import { createFailedJobHandler } from './failed-jobs.js';
import { REVIVE_GRACE_MS } from './intent-repair.js';
import { startJobSweeper, SWEEP_INTERVAL_MS } from './job-sweeper.js';
import { createOverflowHandler } from './overflow.js';
import { createIntentProcessor } from './process-intent.js';
import { startQueueJanitor } from './queue-janitor.js';
import { startReconciler } from './reconciler.js';
import { transferBackoff } from './transfer-backoff.js';

/** Where an account's Transfer requests go. */
export interface PlivoEndpoint {
  baseUrl: string;
  authId: string;
  authToken: string;
}

export interface WorkerDeps {
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  /**
   * Where each account's Plivo is, by account name, when it is not the account's own settings:
   * the simulator of a simulated account (main.ts), a fake in tests.
   */
  plivo?: Readonly<Record<string, PlivoEndpoint>>;
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
  /** The default account's BullMQ worker (the first account's when there is no default). */
  worker: Worker<JobData>;
  /** Every account's BullMQ worker, by account name. */
  workers: ReadonlyMap<string, Worker<JobData>>;
  /** Runs the sweep of unfinished intents of every account now; returns how many it put back on their way. */
  sweep(): Promise<number>;
  /** Forgets idle on-demand queues of every account now; returns how many. */
  tidyQueues(): Promise<number>;
  stop(): Promise<void>;
}

export async function startWorker(config: Readonly<Config>, deps: WorkerDeps): Promise<StartedWorker> {
  const { logger } = deps;
  const timing = workerTiming(config, deps.timing);
  const role = createRoleSetup(config, deps);
  const { releasers } = role;
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

  const accounts = role.openAccounts({ jobs: redis, state }, deps.callbacks);
  role.observe(deps.metrics, accounts, state);

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

  // Each account has workers of its own on its own queue, so one account's backlog, waiting for
  // its own rate, never holds the worker slots another account's intents need.
  const running: Awaited<ReturnType<typeof startAccountWorker>>[] = [];
  for (const a of accounts) {
    running.push(await startAccountWorker(config, deps, { role, account: a, state, redis, timing, redisAway }));
  }
  releasers.add('workers', async () => {
    shuttingDown = true;
    await Promise.all(running.map((r) => r.close()));
  });
  for (const r of running) void r.worker.run().catch((err: unknown) => logger.error({ err }, 'worker stopped'));
  await role.step(Promise.all(running.map((r) => r.worker.waitUntilReady())));
  logger.info(
    {
      concurrency: config.WORKER_CONCURRENCY,
      opsPort,
      accounts: accounts.map((a) => ({
        name: a.account.name,
        maxRps: a.account.maxRps,
        simulated: a.account.simulated,
      })),
    },
    'worker started',
  );

  const workers = new Map(running.map((r) => [r.account, r.worker]));
  return {
    opsPort,
    worker: workers.get(DEFAULT_ACCOUNT) ?? running[0]!.worker,
    workers,
    sweep: async () => (await Promise.all(running.map((r) => r.sweep()))).reduce((a, b) => a + b, 0),
    tidyQueues: async () => (await Promise.all(running.map((r) => r.tidy()))).reduce((a, b) => a + b, 0),
    async stop() {
      shuttingDown = true;
      await role.release();
    },
  };
}

/** One account's part of a worker: its Plivo client and pacer, its intent and callback workers, its sweeper and janitor. */
async function startAccountWorker(
  config: Readonly<Config>,
  deps: WorkerDeps,
  ctx: {
    role: RoleSetup;
    account: AccountStores;
    state: Redis;
    redis: Redis;
    timing: WorkerTiming;
    redisAway: () => boolean;
  },
) {
  const { logger: baseLogger, metrics } = deps;
  const { role, state, redis, timing, redisAway } = ctx;
  const { releasers, outage } = role;
  const { account, store, calls, callbacks, queues, jobs, callbackJobs } = ctx.account;
  const name = account.name;
  const logger = config.accounts.length > 1 ? baseLogger.child({ account: name }) : baseLogger;
  const endpoint = deps.plivo?.[name] ?? {
    baseUrl: account.baseUrl,
    authId: account.authId ?? '',
    authToken: account.authToken ?? '',
  };
  const plivo = createPlivoClient({
    ...endpoint,
    timeoutMs: config.PLIVO_TIMEOUT_MS,
    maxSockets: config.WORKER_CONCURRENCY * 2,
  });
  releasers.add(`plivo client (${name})`, () => plivo.close());

  const callbackWorker = startCallbackWorker({
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    queueName: callbackJobs.name,
    store,
    secret: config.CALLBACK_SECRET,
    allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
    resolve: deps.callbacks?.resolve,
    timeoutMs: config.PLIVO_TIMEOUT_MS,
    metrics,
    logger,
    onError: (err) => outage.report('callback worker', err),
  });
  releasers.add(`callback worker (${name})`, () => callbackWorker.close(redisAway()));

  // A request unanswered for its whole timeout can no longer arrive at Plivo.
  const pacer = createPlivoPacer(state, ctx.account.keys.plivoRate(), account.maxRps, {
    holdMs: config.PLIVO_TIMEOUT_MS + 1000,
    fairKey: (cls) => ctx.account.keys.fair(cls),
  });
  // Make Call is paced under the account's calls per second too (Plivo queues calls beyond it).
  const callPacer = createPlivoPacer(state, `${ctx.account.keys.plivoRate()}:calls`, account.maxCps, {
    holdMs: config.PLIVO_TIMEOUT_MS + 1000,
  });
  const processor = createIntentProcessor({
    config,
    account,
    store,
    calls,
    callbacks,
    callPacer,
    queues,
    jobs,
    onFinished: (record) => scheduleCallback(callbackJobs, record),
    plivo,
    pacer,
    links: createXmlLinks(config.PUBLIC_BASE_URL, plivoMount(name)),
    metrics,
    logger,
    reviveGraceMs: timing.reviveGraceMs,
  });
  const overflow = createOverflowHandler({ account, store, calls, metrics, logger });

  const worker = new Worker<JobData>(
    jobs.name,
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
  releasers.add(`queue janitor (${name})`, () => janitor.stop(!redisAway()));
  const sweeper = startJobSweeper({
    store,
    revive: processor.revive,
    logger,
    intervalMs: timing.sweepIntervalMs,
    graceMs: timing.reviveGraceMs,
  });
  releasers.add(`job sweeper (${name})`, () => sweeper.stop(!redisAway()));
  if (config.RECONCILE_INTERVAL_SECONDS > 0) {
    const reconciler = startReconciler({
      account,
      redis: state,
      keys: ctx.account.keys,
      calls,
      queues,
      plivo,
      pacer,
      metrics,
      logger,
      intervalMs: config.RECONCILE_INTERVAL_SECONDS * 1000,
    });
    releasers.add(`reconciler (${name})`, () => reconciler.stop(!redisAway()));
  }
  return {
    account: name,
    worker,
    sweep: () => sweeper.sweep(),
    tidy: () => janitor.tidy(),
    async close() {
      await worker.close(redisAway());
      // Jobs that failed while the worker drained still get their intents finished, before Redis
      // closes (with Redis away they could not: the sweeper of a later worker will).
      if (!redisAway()) await failed.settled();
    },
  };
}

import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { RedisOutageLog } from '../infra/redis-outage-log.js';
import { listen } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { startPublicUrlCheck, type PublicUrlCheck } from '../observability/public-url-check.js';
import { createReadiness } from '../observability/readiness.js';
import { createRoleSetup } from '../role-setup.js';
import { createApp } from './app.js';
import { createEventHub } from './event-stream.js';
import { requestLimit } from './request-limit.js';
import { createWallboardSessions } from './wallboard-sessions.js';

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
  /** The wallboard's built page (default: wallboardPageDir(); tests pass a build of their own). */
  wallboardDir?: string | null;
}

export interface StartedApi {
  port: number;
  app: Express;
  stop(): Promise<void>;
}

export async function startApi(config: Readonly<Config>, deps: ApiStartDeps): Promise<StartedApi> {
  const { logger } = deps;
  const role = createRoleSetup(config, deps);
  const { releasers } = role;
  let shuttingDown = false;
  // The event stream's one blocking reader per process (XREAD BLOCK would hold up every other command).
  const [redis, eventsReader] = (await role.connect(['command', 'holdq-api'], ['worker', 'holdq-api-events'])) as [
    Redis,
    Redis,
  ];
  const settings = role.watchRedisSettings(redis);
  const accounts = role.openAccounts({ jobs: redis, state: redis });
  // Queue names of an older holdq move into the index (once; the worker does it too).
  for (const a of accounts) await role.step(a.queues.migrate());
  if (deps.observeJobs) role.observe(deps.metrics, accounts, redis);

  const hub = createEventHub({
    reader: eventsReader,
    streams: new Map(accounts.map((a) => [a.account.name, a.keys.events()])),
    logger,
  });
  deps.metrics.eventStreams.collect = () => {
    deps.metrics.eventStreams.set(hub.size());
  };
  const instance = randomUUID();
  let publicUrlCheck: PublicUrlCheck | null = null;
  const app = createApp({
    config,
    instance,
    accounts,
    logger,
    registry: deps.registry,
    metrics: deps.metrics,
    readiness: createReadiness({
      redis,
      simulated: config.simulated,
      isShuttingDown: () => shuttingDown,
      advisories: role.advisories(settings, () => publicUrlCheck),
    }),
    redisAvailable: () => redis.status === 'ready',
    draining: () => shuttingDown,
    events: { hub, redis },
    wallboard: {
      sessions: createWallboardSessions({ redis, config }),
      ...(deps.wallboardDir !== undefined ? { pageDir: deps.wallboardDir } : {}),
    },
    requestLimit:
      config.API_RATE_LIMIT_RPS > 0
        ? requestLimit({ redis, prefix: config.QUEUE_PREFIX, perSecond: config.API_RATE_LIMIT_RPS })
        : null,
  });
  const server = await role.step(listen(app, deps.port ?? config.PORT));
  // Longer than the usual load balancer idle timeout, so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  releasers.add('http server', async () => {
    shuttingDown = true;
    // Event streams end now, so the server can close; their clients resume on another replica.
    await hub.close();
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
    const check = startPublicUrlCheck({
      baseUrl: config.PUBLIC_BASE_URL,
      instance,
      listening: `:${port}`,
      attempts: 6,
      warnAfter: 1,
      logger,
    });
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
      await role.release();
    },
  };
}

import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { accessKeys, ConfigError, loadConfig, type Config } from './config.js';
import { createReleasers } from './lifecycle.js';
import { createLogger, createStdoutDestination, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';

/**
 * The composition root: the only module that reads process.env, installs
 * signal handlers or exits. `node dist/main.js all|api|worker|simulator`.
 * Each role loads only its own code (got and the simulator stay out of an API
 * process, the API's modules out of a worker): less resident memory per role
 * (bench/findings.md; test/module-graph.test.ts pins what each role loads).
 */
const loadApi = () => import('./api/start-api.js');
const loadWorker = () => import('./worker/start-worker.js');
const loadSimulator = () => import('./simulator/plivo-simulator.js');
const loadOutageLog = () => import('./infra/redis-outage-log.js');
const ROLES = ['all', 'api', 'worker', 'simulator'] as const;
type Role = (typeof ROLES)[number];

function readConfig(role: Role): Readonly<Config> {
  try {
    return loadConfig(process.env, { role });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`holdq: ${err.message}\nSee .env.example for every setting.`);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * With no keys at all on the simulator, holdq makes one admin key for this run and prints it once;
 * it never runs open.
 */
function withDevKey(config: Readonly<Config>): Readonly<Config> {
  if (config.keys.length > 0) return config;
  const secret = randomBytes(18).toString('base64url');
  console.error(
    [
      '',
      '  holdq: no API_KEYS, ADMIN_KEYS or READ_KEYS are set, so this run made a one-time admin key (simulator mode only):',
      `      Authorization: Bearer ${secret}`,
      '  Set API_KEYS=name:secret (and ADMIN_KEYS for operators) to choose your own (see README).',
      '',
    ].join('\n'),
  );
  const ADMIN_KEYS = [{ name: 'dev', secret }];
  return Object.freeze({ ...config, ADMIN_KEYS, keys: accessKeys({ ...config, ADMIN_KEYS }) });
}

function installSignals(logger: Logger, stop: () => Promise<void>) {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight work (send the signal again to force)');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(): Promise<void> {
  const role = (process.argv[2] ?? 'all') as Role;
  if (!ROLES.includes(role)) {
    console.error(`holdq: unknown role "${role}"; use one of ${ROLES.join(', ')}`);
    process.exit(64);
  }
  let config = readConfig(role);
  const stdout = createStdoutDestination();
  const logger = createLogger(config.LOG_LEVEL, stdout).child({ role });
  // Buffered logs are written out at least every second, and before any exit.
  setInterval(() => stdout.flush(), 1000).unref();
  process.on('exit', () => {
    try {
      stdout.flushSync();
    } catch {
      // stdout is gone: nothing left to write to
    }
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });

  const releasers = createReleasers(logger);
  installSignals(logger, async () => {
    // A signal during start-up stops it (a wait for Redis gives up at once, releasing what it
    // made), then everything that did start is released.
    starting.abort();
    await startup.catch(() => undefined);
    await releasers.release(config.SHUTDOWN_TIMEOUT_MS + 5000);
  });

  if (role === 'simulator') {
    const { startSimulator } = await loadSimulator();
    const sim = await startSimulator({
      port: config.SIMULATOR_PORT,
      host: config.SIMULATOR_HOST,
      autoCreateCalls: config.SIMULATOR_AUTO_CALLS,
      ...(config.PLIVO_AUTH_ID ? { authId: config.PLIVO_AUTH_ID, authToken: config.PLIVO_AUTH_TOKEN } : {}),
      logger,
    });
    releasers.add('simulator', () => sim.stop());
    logger.info({ url: sim.url, authId: sim.authId }, 'Plivo simulator listening');
    return;
  }

  const registry = new Registry();
  const metrics = createMetrics(registry, {
    queueLabels: { configured: Object.keys(config.QUEUES), max: config.METRICS_MAX_QUEUES },
  });
  for (const account of config.accounts)
    metrics.simulated.labels({ account: account.name }).set(account.simulated ? 1 : 0);
  // Each account without credentials gets a simulator of its own (in the worker's process: the
  // API only serves XML and checks no signature for it), on SIMULATOR_PORT, the next on +1, …
  const plivo: Record<string, { baseUrl: string; authId: string; authToken: string }> = {};
  const simulated = config.accounts.filter((a) => a.simulated);
  if (simulated.length > 0) {
    if (simulated.length === config.accounts.length) config = withDevKey(config);
    if (role !== 'api') {
      const { startSimulator } = await loadSimulator();
      for (const [i, account] of simulated.entries()) {
        const sim = await startSimulator({
          port: config.SIMULATOR_PORT === 0 ? 0 : config.SIMULATOR_PORT + i,
          host: config.SIMULATOR_HOST,
          autoCreateCalls: config.SIMULATOR_AUTO_CALLS,
          logger: logger.child({ component: 'simulator', account: account.name }),
        });
        releasers.add(`simulator (${account.name})`, () => sim.stop());
        plivo[account.name] = { baseUrl: sim.url, authId: sim.authId, authToken: sim.authToken };
      }
    }
    for (const account of simulated) {
      logger.warn(
        { account: account.name, simulator: plivo[account.name]?.baseUrl ?? 'in the worker' },
        account.name === 'default'
          ? 'SIMULATOR MODE: no PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN set, so transfers go to the built-in Plivo simulator and no real call moves'
          : `SIMULATOR MODE for account ${account.name}: it has no auth_id/auth_token in PLIVO_ACCOUNTS, so its transfers go to a built-in Plivo simulator`,
      );
    }
  }

  // One outage log for the process: with Redis away, `all` says so once, not once per role.
  const { createRedisOutageLog } = await loadOutageLog();
  const redisOutage = createRedisOutageLog(logger, { url: config.REDIS_URL });
  // Released in reverse: the API stops taking intents first, then the worker drains what is in flight.
  if (role === 'all' || role === 'worker') {
    const { startWorker } = await loadWorker();
    const worker = await startWorker(config, {
      logger,
      registry,
      metrics,
      plivo,
      opsPort: role === 'worker' ? config.METRICS_PORT : null,
      signal: starting.signal,
      redisOutage,
    });
    releasers.add('worker', () => worker.stop());
  }
  if (starting.signal.aborted) return;
  if (role === 'all' || role === 'api') {
    const { startApi } = await loadApi();
    const api = await startApi(config, {
      logger,
      registry,
      metrics,
      observeJobs: role === 'api',
      signal: starting.signal,
      redisOutage,
    });
    releasers.add('api', () => api.stop());
  }
}

/** Aborted by the first signal: a start-up still under way stops and the signal handler exits. */
const starting = new AbortController();
const startup = main();
startup.catch((err: unknown) => {
  if (starting.signal.aborted) return; // stopped by a signal: its handler releases and exits
  console.error('holdq: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});

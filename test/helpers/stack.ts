import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { startApi, type StartedApi } from '../../src/api/start-api.js';
import { loadConfig, type Config } from '../../src/config.js';
import { signV3 } from '../../src/domain/plivo-signature.js';
import type { intentView } from '../../src/domain/intent.js';

export type IntentView = ReturnType<typeof intentView>;
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { startSimulator, type PlivoSimulator, type SimulatorOptions } from '../../src/simulator/plivo-simulator.js';
import { startWorker, type StartedWorker, type WorkerDeps, type WorkerTiming } from '../../src/worker/start-worker.js';
import { freePort } from './redis-server.js';
import { checkResponse } from './responses.js';

export const TEST_KEY = 'test-secret-0123456789';
/** An ADMIN_KEYS key (client "ops") and a READ_KEYS key (client "viewer") of every test stack. */
export const ADMIN_KEY = 'ops-secret-0123456789';
export const READ_KEY = 'viewer-secret-0123456789';
export const redisUrl = () => process.env.HOLDQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A configuration for one test: its own key prefix, fast backoff, the given overrides. */
export function testConfig(env: Record<string, string | undefined> = {}): Readonly<Config> {
  return loadConfig({
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: `t${randomUUID().slice(0, 8)}`,
    API_KEYS: `test:${TEST_KEY},other:other-secret-0123456789`,
    ADMIN_KEYS: `ops:${ADMIN_KEY}`,
    READ_KEYS: `viewer:${READ_KEY}`,
    TRANSFER_BACKOFF_MS: '50',
    PLIVO_TIMEOUT_MS: '1000',
    PLIVO_MAX_RPS: '1000',
    LOG_LEVEL: 'info',
    API_RATE_LIMIT_RPS: '0',
    CALLBACK_ALLOW_PRIVATE: 'true',
    // Off unless a test is about it: some tests' PUBLIC_BASE_URL is a public name (holdq.example.com).
    PUBLIC_BASE_URL_CHECK: 'false',
    ...env,
  });
}

/**
 * Log lines, captured so tests can read them (and so test output stays quiet); `events` emits each
 * as 'line', and `waitFor` resolves on the first line, logged already or from now on, that matches.
 */
export function captureLogs() {
  const lines: string[] = [];
  const events = new EventEmitter();
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(line);
        events.emit('line', line);
      }
      cb();
    },
  });
  const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const seen = lines.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onLine = (line: string) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        events.off('line', onLine);
        resolve(line);
      };
      const timer = setTimeout(() => {
        events.off('line', onLine);
        reject(
          new Error(`no log line matched ${pattern} within ${timeoutMs} ms; lines: ${lines.slice(-5).join('\n')}`),
        );
      }, timeoutMs);
      events.on('line', onLine);
    });
  };
  return { lines, stream, events, waitFor };
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/**
 * Polls `probe` until it returns something other than undefined or false, for conditions no
 * event announces (a Redis that is back, a key that is gone); fails with `what` after `timeoutMs`.
 */
export async function until<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Stack {
  config: Readonly<Config>;
  sim: PlivoSimulator;
  api: StartedApi | null;
  worker: StartedWorker | null;
  apiUrl: string;
  registry: Registry;
  logs: string[];
  /** Resolves with the first log line, logged from now on (or already, with `past`), that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, opts?: { timeoutMs?: number; past?: boolean }): Promise<LogLine>;
  /** Resolves on the first raw log line (of the API and worker), logged already or from now on, that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The value of a counter or gauge of this stack's registry for these labels (0 when it has none yet). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  post(
    body: unknown,
    opts?: { key?: string | null; idempotencyKey?: string; contentType?: string; raw?: string },
  ): Promise<Response>;
  get(path: string, opts?: { key?: string | null }): Promise<Response>;
  /**
   * Calls a /plivo path as Plivo does: form-encoded, signed with the account's auth token (or `token`).
   * `signedForm`: the form the signature covers, when it is not the one sent (a tampered request).
   */
  plivo(
    path: string,
    opts?: {
      method?: 'GET' | 'POST';
      form?: Record<string, string>;
      sign?: boolean;
      token?: string;
      signedForm?: Record<string, string>;
    },
  ): Promise<Response>;
  waitForIntent(id: string, until?: (r: IntentView) => boolean, timeoutMs?: number): Promise<IntentView>;
  /**
   * Stops the API (a graceful stop, as a deploy does), runs `whileDown`, then starts a new API on
   * the same port with the same configuration: the worker, Redis and the simulator stay up.
   */
  restartApi(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

const TERMINAL = new Set(['completed', 'failed', 'superseded']);

/**
 * The API, the worker and a Plivo simulator, on this test file's Redis. `workerEnv` gives the worker
 * settings of its own (an API and workers that disagree, or a setting changed since an intent was
 * accepted); `callbacks` tunes completion-callback delivery (WorkerDeps.callbacks).
 */
export async function startStack(
  opts: {
    env?: Record<string, string>;
    workerEnv?: Record<string, string>;
    callbacks?: WorkerDeps['callbacks'];
    simulator?: SimulatorOptions;
    api?: boolean;
    worker?: boolean;
    workerTiming?: Partial<WorkerTiming>;
    /** The wallboard's built page (wallboard-build.ts); by default, what the API finds. */
    wallboardDir?: string;
  } = {},
): Promise<Stack> {
  const sim = await startSimulator({ autoCreateCalls: true, ...opts.simulator });
  const port = await freePort();
  const env = {
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    PLIVO_AUTH_ID: sim.authId,
    PLIVO_AUTH_TOKEN: sim.authToken,
    PLIVO_BASE_URL: sim.url,
    ...opts.env,
  };
  const config = testConfig(env);
  const workerConfig = opts.workerEnv
    ? testConfig({ ...env, QUEUE_PREFIX: config.QUEUE_PREFIX, ...opts.workerEnv })
    : config;
  const { lines, stream, events, waitFor } = captureLogs();
  const logger = createLogger(config.LOG_LEVEL, stream);
  const registry = new Registry();
  const metrics = createMetrics(registry, {
    defaults: false,
    queueLabels: { configured: Object.keys(config.QUEUES), max: config.METRICS_MAX_QUEUES },
  });
  // As main.ts does, one series per account.
  for (const a of config.accounts) metrics.simulated.labels({ account: a.name }).set(a.simulated ? 1 : 0);
  const worker =
    opts.worker === false
      ? null
      : await startWorker(workerConfig, {
          logger,
          registry,
          metrics,
          opsPort: null,
          ...(opts.workerTiming ? { timing: opts.workerTiming } : {}),
          ...(opts.callbacks ? { callbacks: opts.callbacks } : {}),
        });
  const launchApi = () =>
    startApi(config, {
      logger,
      registry,
      metrics,
      observeJobs: false,
      ...(opts.wallboardDir ? { wallboardDir: opts.wallboardDir } : {}),
    });
  const api = opts.api === false ? null : await launchApi();
  const apiUrl = `http://127.0.0.1:${port}`;
  const auth = (key: string | null | undefined): Record<string, string> =>
    key === null ? {} : { authorization: `Bearer ${key ?? TEST_KEY}` };

  const stack: Stack = {
    config,
    sim,
    api,
    worker,
    apiUrl,
    registry,
    logs: lines,
    waitForLine: waitFor,
    waitForLog(match, o = {}) {
      const parse = (line: string): LogLine | undefined => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          return undefined;
        }
      };
      if (o.past) {
        const seen = lines.map(parse).find((l) => l && match(l));
        if (seen) return Promise.resolve(seen);
      }
      const timeoutMs = o.timeoutMs ?? 15_000;
      return new Promise((resolve, reject) => {
        const onLine = (line: string) => {
          const parsed = parse(line);
          if (!parsed || !match(parsed)) return;
          cleanup();
          resolve(parsed);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line in ${timeoutMs} ms; the last ones: ${lines.slice(-5).join('\n')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('line', onLine);
        };
        events.on('line', onLine);
      });
    },
    async metric(name, labels = {}) {
      const metric = registry.getSingleMetric(name);
      if (!metric) throw new Error(`no metric ${name}`);
      const { values } = await metric.get();
      const value = values.find((v) =>
        Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
      );
      return value?.value ?? 0;
    },
    async post(body, o = {}) {
      const res = await fetch(`${apiUrl}/v1/intents`, {
        method: 'POST',
        headers: {
          ...auth(o.key),
          'content-type': o.contentType ?? 'application/json',
          ...(o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}),
        },
        body: o.raw ?? JSON.stringify(body),
      });
      await checkResponse('POST', `${apiUrl}/v1/intents`, res);
      return res;
    },
    async get(path, o = {}) {
      const res = await fetch(`${apiUrl}${path}`, { headers: auth(o.key) });
      await checkResponse('GET', `${apiUrl}${path}`, res);
      return res;
    },
    plivo(path, o = {}) {
      const method = o.method ?? 'POST';
      const url = `${apiUrl}${path}`;
      const nonce = String(Date.now());
      const headers: Record<string, string> = {};
      if (o.sign !== false) {
        headers['x-plivo-signature-v3'] = signV3(
          o.token ?? sim.authToken,
          method,
          url,
          nonce,
          method === 'POST' ? (o.signedForm ?? o.form ?? {}) : {},
        );
        headers['x-plivo-signature-v3-nonce'] = nonce;
      }
      if (method === 'GET') return fetch(url, { headers });
      headers['content-type'] = 'application/x-www-form-urlencoded';
      return fetch(url, { method, headers, body: new URLSearchParams(o.form ?? {}).toString() });
    },
    async waitForIntent(id, until = (r) => TERMINAL.has(r.status), timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let last: IntentView | undefined;
      while (Date.now() < deadline) {
        const res = await stack.get(`/v1/intents/${id}`);
        if (res.status === 200) {
          last = (await res.json()) as IntentView;
          if (until(last)) return last;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(
        `intent ${id} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
      );
    },
    async restartApi(whileDown) {
      await stack.api?.stop();
      stack.api = null;
      await whileDown?.();
      stack.api = await launchApi();
    },
    async stop() {
      await stack.api?.stop();
      await worker?.stop();
      await sim.stop();
    },
  };
  return stack;
}

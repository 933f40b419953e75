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
import { startWorker, type StartedWorker } from '../../src/worker/start-worker.js';
import { freePort } from './redis-server.js';

export const TEST_KEY = 'test-secret-0123456789';
export const redisUrl = () => process.env.HOLDQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A configuration for one test: its own key prefix, fast backoff, the given overrides. */
export function testConfig(env: Record<string, string | undefined> = {}): Readonly<Config> {
  return loadConfig({
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: `t${randomUUID().slice(0, 8)}`,
    API_KEYS: `test:${TEST_KEY},other:other-secret-0123456789`,
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

/** Log lines, captured so tests can read them (and so test output stays quiet); `waitFor` resolves on the first line that matches. */
export function captureLogs() {
  const lines: string[] = [];
  const written = new EventEmitter();
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(line);
        written.emit('line', line);
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
        written.off('line', onLine);
        resolve(line);
      };
      const timer = setTimeout(() => {
        written.off('line', onLine);
        reject(new Error(`no log line matched ${pattern} within ${timeoutMs} ms; lines: ${lines.slice(-5).join('\n')}`));
      }, timeoutMs);
      written.on('line', onLine);
    });
  };
  return { lines, stream, waitFor };
}

export interface Stack {
  config: Readonly<Config>;
  sim: PlivoSimulator;
  api: StartedApi | null;
  worker: StartedWorker | null;
  apiUrl: string;
  registry: Registry;
  logs: string[];
  /** Resolves on the first log line (of the API and worker) that matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  post(body: unknown, opts?: { key?: string | null; idempotencyKey?: string; contentType?: string; raw?: string }): Promise<Response>;
  get(path: string, opts?: { key?: string | null }): Promise<Response>;
  /** Calls a /plivo path as Plivo does: form-encoded, signed with the account's auth token. */
  plivo(path: string, opts?: { method?: 'GET' | 'POST'; form?: Record<string, string>; sign?: boolean; token?: string }): Promise<Response>;
  waitForIntent(id: string, until?: (r: IntentView) => boolean, timeoutMs?: number): Promise<IntentView>;
  stop(): Promise<void>;
}

const TERMINAL = new Set(['completed', 'failed', 'superseded']);

export async function startStack(
  opts: { env?: Record<string, string>; simulator?: SimulatorOptions; api?: boolean; worker?: boolean } = {},
): Promise<Stack> {
  const sim = await startSimulator({ autoCreateCalls: true, ...opts.simulator });
  const port = await freePort();
  const config = testConfig({
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    PLIVO_AUTH_ID: sim.authId,
    PLIVO_AUTH_TOKEN: sim.authToken,
    PLIVO_BASE_URL: sim.url,
    ...opts.env,
  });
  const { lines, stream, waitFor } = captureLogs();
  const logger = createLogger(config.LOG_LEVEL, stream);
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaults: false });
  const worker =
    opts.worker === false
      ? null
      : await startWorker(config, {
          logger,
          registry,
          metrics,
          plivo: { baseUrl: config.PLIVO_BASE_URL, authId: sim.authId, authToken: sim.authToken },
          opsPort: null,
        });
  const api = opts.api === false ? null : await startApi(config, { logger, registry, metrics, observeJobs: false });
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
    waitForLog: waitFor,
    post(body, o = {}) {
      return fetch(`${apiUrl}/v1/intents`, {
        method: 'POST',
        headers: {
          ...auth(o.key),
          'content-type': o.contentType ?? 'application/json',
          ...(o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}),
        },
        body: o.raw ?? JSON.stringify(body),
      });
    },
    get(path, o = {}) {
      return fetch(`${apiUrl}${path}`, { headers: auth(o.key) });
    },
    plivo(path, o = {}) {
      const method = o.method ?? 'POST';
      const url = `${apiUrl}${path}`;
      const nonce = String(Date.now());
      const headers: Record<string, string> = {};
      if (o.sign !== false) {
        headers['x-plivo-signature-v3'] = signV3(o.token ?? sim.authToken, method, url, nonce, method === 'POST' ? (o.form ?? {}) : {});
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
      throw new Error(`intent ${id} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },
    async stop() {
      await api?.stop();
      await worker?.stop();
      await sim.stop();
    },
  };
  return stack;
}

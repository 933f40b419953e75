import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { startApi, type StartedApi } from '../src/api/start-api.js';
import type { Config } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { startPublicUrlCheck } from '../src/observability/public-url-check.js';
import { startWorker, type StartedWorker } from '../src/worker/start-worker.js';
import { freePort } from './helpers/redis-server.js';
import { captureLogs, startStack, testConfig, type Stack } from './helpers/stack.js';

/** An API of its own, with its logs, on `port` (0: any). */
async function api(config: Readonly<Config>, port = 0) {
  const logs = captureLogs();
  const registry = new Registry();
  const started = await startApi(config, {
    logger: createLogger('info', logs.stream),
    registry,
    metrics: createMetrics(registry, { defaults: false }),
    observeJobs: false,
    port,
  });
  return { started, logs, url: `http://127.0.0.1:${started.port}` };
}

const on = (env: Record<string, string> = {}) => testConfig({ PUBLIC_BASE_URL_CHECK: 'true', ...env });

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
};

describe('PUBLIC_BASE_URL at start-up', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { PUBLIC_BASE_URL_CHECK: 'true' } });
  });
  afterAll(() => stack.stop());
  const extra: StartedApi[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((a) => a.stop()));
  });

  it('when /livez is asked, then it names holdq and this instance', async () => {
    const body = (await (await fetch(`${stack.apiUrl}/livez`)).json()) as Record<string, unknown>;
    expect(body).toEqual({ status: 'ok', service: 'holdq', instance: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it('when PUBLIC_BASE_URL reaches this API, then /readyz says so', async () => {
    await stack.waitForLine(/PUBLIC_BASE_URL reaches this instance/);
    expect((await readyz(stack.apiUrl)).body.checks.public_base_url).toBe('ok: reaches this instance');
    expect(stack.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });

  it('when PUBLIC_BASE_URL reaches another holdq (a replica), then that is fine', async () => {
    const replica = await api(on({ PUBLIC_BASE_URL: stack.apiUrl }));
    extra.push(replica.started);
    await replica.logs.waitFor(/PUBLIC_BASE_URL reaches another holdq instance/);
    expect((await readyz(replica.url)).body.checks.public_base_url).toMatch(
      /^ok: reaches another holdq instance \([0-9a-f-]+\): a replica/,
    );
  });

  it('when PORT is not the port PUBLIC_BASE_URL names, then one error line says so and how to fix it, and /readyz stays 200 with the warning', async () => {
    const port = await freePort();
    const wrong = `http://127.0.0.1:${await freePort()}`;
    const lone = await api(on({ PORT: String(port), PUBLIC_BASE_URL: wrong }), port);
    extra.push(lone.started);
    const line = await lone.logs.waitFor(/does not reach/);
    expect(JSON.parse(line)).toMatchObject({
      level: 'error',
      msg: expect.stringContaining(`PUBLIC_BASE_URL=${wrong} does not reach this holdq (listening on :${port})`),
    });
    expect(line).toMatch(/ECONNREFUSED.*Plivo will not be able to fetch holdq's XML; set PUBLIC_BASE_URL/);
    const ready = await readyz(lone.url);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.public_base_url).toMatch(/^WARNING: .*ECONNREFUSED.*set PUBLIC_BASE_URL/);
    expect(lone.logs.lines.filter((l) => l.includes('does not reach'))).toHaveLength(1);
  });

  it('when PUBLIC_BASE_URL answers but is not holdq, then that is a warning too', async () => {
    const foreign = await api(on({ PUBLIC_BASE_URL: stack.sim.url }));
    extra.push(foreign.started);
    await foreign.logs.waitFor(/does not reach/);
    expect((await readyz(foreign.url)).body.checks.public_base_url).toMatch(
      /^WARNING: answered 404, not holdq's \/livez/,
    );
  });

  it('when PUBLIC_BASE_URL_CHECK=false, then nothing is asked or shown', async () => {
    const off = await api(testConfig({ PUBLIC_BASE_URL: 'http://127.0.0.1:9', PUBLIC_BASE_URL_CHECK: 'false' }));
    extra.push(off.started);
    expect((await readyz(off.url)).body.checks).not.toHaveProperty('public_base_url');
    expect(off.logs.lines.filter((l) => l.includes('PUBLIC_BASE_URL'))).toEqual([]);
  });
});

describe('PUBLIC_BASE_URL from a lone worker', () => {
  it('when the API starts after the worker, then the worker reaches it on a retry, with no error line', async () => {
    const port = await freePort();
    const config = on({ PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` });
    const logs = captureLogs();
    const registry = new Registry();
    const worker: StartedWorker = await startWorker(config, {
      logger: createLogger('info', logs.stream),
      registry,
      metrics: createMetrics(registry, { defaults: false }),
      plivo: { default: { baseUrl: 'http://127.0.0.1:9', authId: 'X', authToken: 'y' } },
      opsPort: 0,
    });
    const late = await api(config, port);
    try {
      await logs.waitFor(/PUBLIC_BASE_URL reaches holdq \(instance/);
      await logs.waitFor(/Redis settings read/);
      expect(logs.lines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
      // The lone worker serves its own /readyz, with the same start-up findings as the API's.
      expect((await readyz(`http://127.0.0.1:${worker.opsPort}`)).body.checks).toMatchObject({
        public_base_url: expect.stringMatching(/^ok: reaches holdq/),
        redis_persistence: 'appendonly no: a Redis restart loses accepted intents',
        redis_eviction: 'noeviction',
      });
    } finally {
      await late.started.stop();
      await worker.stop();
    }
  });

  it('when nothing answers through all its attempts, then it logs one error line, and stop() ends the retries at once', async () => {
    const logs = captureLogs();
    const dead = `http://127.0.0.1:${await freePort()}`;
    const check = startPublicUrlCheck({
      baseUrl: dead,
      instance: null,
      attempts: 2,
      warnAfter: 2,
      logger: createLogger('info', logs.stream),
    });
    await check.done;
    expect(logs.lines).toHaveLength(1);
    expect(JSON.parse(logs.lines[0]!)).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(/^PUBLIC_BASE_URL=.* does not reach a holdq API after 2 attempts: .*ECONNREFUSED/),
    });

    const stopped = startPublicUrlCheck({
      baseUrl: dead,
      instance: null,
      attempts: 6,
      warnAfter: 6,
      logger: createLogger('info', logs.stream),
    });
    const started = Date.now();
    stopped.stop();
    await stopped.done;
    expect(Date.now() - started).toBeLessThan(500);
    expect(logs.lines).toHaveLength(1);
  });
});

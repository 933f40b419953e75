import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

describe('graceful shutdown', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PLIVO_TIMEOUT_MS: '5000' } });
  });
  afterAll(() => stack.stop());

  it('when the worker is stopped mid-transfer, then the in-flight intent still completes before stop resolves', async () => {
    stack.sim.setLatency(1500);
    const res = await stack.post({ type: 'hold', call_uuid: `call-${randomUUID()}` });
    const { id } = (await res.json()) as IntentView;
    await stack.waitForIntent(id, (r) => r.status === 'running');

    await stack.worker!.stop();

    // Read the record straight from Redis: the worker is gone, the API is still up.
    const done = await stack.waitForIntent(id, () => true);
    expect(done).toMatchObject({ status: 'completed', attempts: 1 });
    expect(stack.sim.received()).toHaveLength(1);
  });

  it('when the API is stopping, then /readyz answers 503 and new connections are refused afterwards', async () => {
    const ready = await stack.get('/readyz', { key: null });
    expect(ready.status).toBe(200);
    await stack.api!.stop();
    await expect(fetch(`${stack.apiUrl}/livez`)).rejects.toThrow();
  });
});

describe('readiness follows Redis', () => {
  let stack: Stack;
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack.stop();
    await redis.stop();
    removeDir(redis.dir);
  });

  it('when Redis answers, then /readyz is 200 and says which Plivo it uses', async () => {
    const res = await stack.get('/readyz', { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', plivo: 'plivo', checks: { redis: 'ok' } });
    expect((await stack.get('/livez', { key: null })).status).toBe(200);
  });

  it('when Redis goes away, then /readyz and intents answer 503 at once, and both recover when it returns', async () => {
    await redis.stop();
    const started = Date.now();
    const ready = await stack.get('/readyz', { key: null });
    expect(ready.status).toBe(503);
    const res = await stack.post({ type: 'hold', call_uuid: 'call-outage' });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 503, title: expect.any(String) });
    expect(Date.now() - started).toBeLessThan(5000); // no hanging requests

    redis = await startRedisServer({ port: redis.port, dir: redis.dir });
    let status = 0;
    for (let i = 0; i < 100 && status !== 202; i++) {
      status = (await stack.post({ type: 'hold', call_uuid: 'call-after-outage' })).status;
      if (status !== 202) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(202);
    expect((await stack.get('/readyz', { key: null })).status).toBe(200);
  });
});

describe('the worker after a Redis outage', () => {
  let stack: Stack;
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    stack = await startStack({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack.stop();
    await redis.stop();
    removeDir(redis.dir);
  });

  it('when Redis dies and comes back, then the worker resumes consuming by itself', async () => {
    const before = (await (await stack.post({ type: 'hold', call_uuid: `out-${randomUUID()}` })).json()) as IntentView;
    expect(await stack.waitForIntent(before.id)).toMatchObject({ status: 'completed' });

    await redis.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500)); // the worker sees the outage and keeps reconnecting
    redis = await startRedisServer({ port: redis.port, dir: redis.dir, args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

    let accepted: IntentView | undefined;
    for (let i = 0; i < 100 && !accepted; i++) {
      const res = await stack.post({ type: 'hold', call_uuid: `out-${randomUUID()}` });
      if (res.status === 202) accepted = (await res.json()) as IntentView;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(accepted).toBeDefined();
    expect(await stack.waitForIntent(accepted!.id, undefined, 20_000)).toMatchObject({ status: 'completed' });
  });

  it('when Redis forgets its cached scripts (SCRIPT FLUSH), then intents are still accepted and run', async () => {
    const admin = new Redis(redis.url);
    try {
      await admin.script('FLUSH');
      expect(await admin.info('memory')).toMatch(/number_of_cached_scripts:0\r\n/);
      const res = await stack.post({ type: 'hold', call_uuid: `flushed-${randomUUID()}` });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as IntentView;
      expect(await stack.waitForIntent(id, undefined, 20_000)).toMatchObject({ status: 'completed' });
      expect(await admin.info('memory')).not.toMatch(/number_of_cached_scripts:0\r\n/);
    } finally {
      admin.disconnect();
    }
  });
});

describe('the lost-job sweeper', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No grace: the sweep looks at every unfinished intent at once.
    stack = await startStack({ workerTiming: { reviveGraceMs: 0 } });
  });
  afterAll(() => stack.stop());

  it('when an accepted intent has lost its BullMQ job, then a sweep gives it back and the intent completes', async () => {
    await stack.worker!.worker.pause(); // nothing runs while the job is taken away
    const { id } = (await (await stack.post({ type: 'hold', call_uuid: `swept-${randomUUID()}` })).json()) as IntentView;
    const redis = new Redis(stack.config.REDIS_URL);
    const queue = new Queue('intent-jobs', { connection: redis, prefix: stack.config.QUEUE_PREFIX });
    try {
      await queue.remove(id);
      expect(await queue.getJob(id)).toBeUndefined();
      expect(await stack.worker!.sweep()).toBe(1);
      stack.worker!.worker.resume();
      expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed' });
      expect(await stack.worker!.sweep()).toBe(0);
      expect(await redis.zscore(`${stack.config.QUEUE_PREFIX}:unfinished`, id)).toBeNull();
      expect(await (await stack.get('/metrics', { key: null })).text()).toMatch(/holdq_intents_recovered_total 1/);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});

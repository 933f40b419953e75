import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, TEST_KEY, until, type IntentView, type Stack } from './helpers/stack.js';

/**
 * A raw HTTP/1.1 connection, to send requests on one connection exactly when a test wants:
 * `continued` resolves on the server's 100 Continue, `responses(n)` on n final answers.
 */
async function openHttp(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buffer = '';
  const answers: { status: number; body: string }[] = [];
  let resolveContinue!: () => void;
  const continued = new Promise<void>((resolve) => (resolveContinue = resolve));
  const parse = () => {
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.slice(0, end);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const body = buffer.slice(end + 4, end + 4 + length);
      buffer = buffer.slice(end + 4 + length);
      if (status === 100) resolveContinue();
      else answers.push({ status, body });
      socket.emit('answer');
    }
  };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    parse();
  });
  return {
    continued,
    write: (text: string) => socket.write(text),
    responses(n: number): Promise<{ status: number; body: string }[]> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (answers.length < n) return;
          socket.off('answer', check).off('close', closed);
          socket.destroy();
          resolve(answers);
        };
        const closed = () =>
          answers.length >= n
            ? check()
            : reject(new Error(`the connection closed after ${answers.length} of ${n} answers`));
        socket.on('answer', check).on('close', closed);
        check();
      });
    },
  };
}

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
    // A request in flight keeps its connection, and so the API, stopping: its headers are in
    // (the 100 Continue says so), its body is not. /readyz comes next on that same connection.
    const conn = await openHttp(stack.api!.port);
    const body = JSON.stringify({ type: 'hold', call_uuid: `stopping-${randomUUID()}` });
    conn.write(
      `POST /v1/intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_KEY}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
    );
    await conn.continued;
    const stopped = stack.api!.stop();
    await new Promise((resolve) => setImmediate(resolve)); // its first step, closing the listener, has run
    // Stopping has begun: the API takes no new connection...
    await expect(fetch(`${stack.apiUrl}/livez`)).rejects.toThrow();
    // ...and answers the requests of the one it still serves.
    conn.write(`${body}GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const [accept, readyz] = await conn.responses(2);
    expect(accept!.status).toBe(202);
    expect(readyz!.status).toBe(503);
    expect(JSON.parse(readyz!.body)).toMatchObject({
      status: 'not_ready',
      checks: { shutdown: 'in progress', redis: 'ok' },
    });
    await stopped;
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
    // The API's connection comes back by itself (backing off to 2 s between tries); /readyz says when.
    await until(async () => (await stack.get('/readyz', { key: null })).status === 200, 'readiness to recover', 20_000);
    expect((await stack.post({ type: 'hold', call_uuid: 'call-after-outage' })).status).toBe(202);
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

    // The outage is seen once a connection fails to reconnect (one line per role, from its outage log).
    const outage = stack.waitForLog((l) => (l.msg ?? '').startsWith('cannot reach Redis'));
    await redis.stop('SIGKILL');
    await outage;
    redis = await startRedisServer({
      port: redis.port,
      dir: redis.dir,
      args: ['--appendonly', 'yes', '--appendfsync', 'always'],
    });

    await until(
      async () => (await stack.get('/readyz', { key: null })).status === 200,
      'the API to see Redis again',
      20_000,
    );
    const res = await stack.post({ type: 'hold', call_uuid: `out-${randomUUID()}` });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as IntentView;
    expect(await stack.waitForIntent(accepted.id, undefined, 20_000)).toMatchObject({ status: 'completed' });
  }, 60_000);

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
    const { id } = (await (
      await stack.post({ type: 'hold', call_uuid: `swept-${randomUUID()}` })
    ).json()) as IntentView;
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

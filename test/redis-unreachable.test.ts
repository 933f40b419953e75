import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { startApi } from '../src/api/start-api.js';
import { createRedisOutageLog, redisUrlForLogs } from '../src/infra/redis-outage-log.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { startWorker } from '../src/worker/start-worker.js';
import { removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { captureLogs, startStack, testConfig, type Stack } from './helpers/stack.js';

/**
 * A "Redis" that resets every connection at once: each reconnect attempt fails (ECONNRESET)
 * and is counted, so a test can wait for the fifth attempt instead of sleeping.
 */
async function resettingServer() {
  let attempts = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const server = net.createServer((socket) => {
    attempts += 1;
    socket.resetAndDestroy();
    for (const w of waiting.filter((x) => attempts >= x.n)) w.resolve();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    attempts: (n: number) => new Promise<void>((resolve) => (attempts >= n ? resolve() : waiting.push({ n, resolve }))),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const deps = (logs: ReturnType<typeof captureLogs>) => {
  const registry = new Registry();
  return { logger: createLogger('info', logs.stream), registry, metrics: createMetrics(registry, { defaults: false }) };
};
const outageLines = (lines: string[]) => lines.filter((l) => /cannot reach Redis/.test(l));

describe('start-up with no Redis', () => {
  let redis: Awaited<ReturnType<typeof resettingServer>>;
  beforeAll(async () => {
    redis = await resettingServer();
  });
  afterAll(() => redis.stop());

  it('when the API cannot reach Redis, then one line names the URL without its password and the remedy, and an abort ends start-up at once', async () => {
    const logs = captureLogs();
    const stopping = new AbortController();
    const config = testConfig({ REDIS_URL: `redis://holdq:s3cret-pw@127.0.0.1:${redis.port}` });
    const starting = startApi(config, { ...deps(logs), observeJobs: false, port: 0, signal: stopping.signal });
    await redis.attempts(6); // several reconnects, each failing
    const aborted = Date.now();
    stopping.abort();
    await expect(starting).rejects.toMatchObject({ name: 'RedisWaitError', aborted: true });
    expect(Date.now() - aborted).toBeLessThan(2000);
    const lines = outageLines(logs.lines);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(
        new RegExp(
          `^cannot reach Redis at redis://holdq:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} \\(.*ECONNRESET.*\\): start Redis or set REDIS_URL; holdq keeps retrying$`,
        ),
      ),
    });
    expect(logs.lines.join('\n')).not.toContain('s3cret-pw');
  });

  it('when the worker cannot reach Redis, then its two connections and its queues say it once, and an abort ends start-up at once', async () => {
    const logs = captureLogs();
    const stopping = new AbortController();
    const config = testConfig({ REDIS_URL: `redis://127.0.0.1:${redis.port}` });
    const starting = startWorker(config, {
      ...deps(logs),
      plivo: { default: { baseUrl: 'http://127.0.0.1:9', authId: 'X', authToken: 'y' } },
      opsPort: 0,
      signal: stopping.signal,
    });
    await redis.attempts(18);
    const aborted = Date.now();
    stopping.abort();
    await expect(starting).rejects.toMatchObject({ name: 'RedisWaitError', aborted: true });
    expect(Date.now() - aborted).toBeLessThan(2000);
    expect(outageLines(logs.lines)).toHaveLength(1);
    expect(logs.lines.filter((l) => l.includes('"level":"warn"') || l.includes('"level":"error"'))).toHaveLength(1);
  });
});

describe('the outage log', () => {
  it('when the same error repeats, then it is said once, again only when it changes or 10 s later (with the count left out), and once when Redis answers', () => {
    const logs = captureLogs();
    let t = 0;
    const outage = createRedisOutageLog(createLogger('info', logs.stream), {
      url: 'rediss://default:pw@redis.example:6380/0',
      now: () => t,
    });
    const refused = new Error('connect ECONNREFUSED 10.0.0.7:6380');
    for (let i = 0; i < 20; i++, t += 500) outage.connectionError(refused); // 0 … 9.5 s
    expect(logs.lines).toHaveLength(1);
    outage.report('queue', new Error('Connection is closed.'));
    expect(logs.lines).toHaveLength(2);
    outage.connectionError(refused); // said before in this outage: not again
    expect(logs.lines).toHaveLength(2);
    t = 20_000;
    outage.connectionError(refused);
    expect(JSON.parse(logs.lines[2]!).msg).toBe(
      'still cannot reach Redis at rediss://default:***@redis.example:6380/0 (connect ECONNREFUSED 10.0.0.7:6380); 1 more failed attempts since the last line: start Redis or set REDIS_URL',
    );
    outage.ready();
    outage.ready();
    expect(JSON.parse(logs.lines[3]!)).toMatchObject({
      level: 'info',
      msg: 'Redis at rediss://default:***@redis.example:6380/0 answers again',
      failedAttempts: 23,
    });
    outage.connectionError(new Error('WRONGPASS invalid username-password pair or user is disabled.'));
    expect(JSON.parse(logs.lines[4]!).msg).toMatch(
      /^cannot reach Redis .*: check the user and password in REDIS_URL; holdq keeps retrying$/,
    );
    outage.report('worker', new Error('Missing lock for job 1'));
    expect(JSON.parse(logs.lines[5]!)).toMatchObject({
      level: 'warn',
      msg: 'worker error',
      err: { message: 'Missing lock for job 1' },
    });
    expect(outage.notReady(30_000)).toBe(
      'Redis at rediss://default:***@redis.example:6380/0 did not answer within 30 s (WRONGPASS invalid username-password pair or user is disabled.): check the user and password in REDIS_URL',
    );
    expect(redisUrlForLogs('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('stopping while Redis is away', () => {
  let redis: RedisProcess;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack.stop();
    removeDir(redis.dir);
  });

  it('when Redis died after start, then the worker and the API stop at once instead of waiting out SHUTDOWN_TIMEOUT_MS', async () => {
    await redis.stop('SIGKILL');
    // The dead Redis's port stays taken (every connection refused at once, as a dead host's would
    // be), so another test file's redis-server cannot start on it and let holdq reconnect there.
    const squatter = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(redis.port, '127.0.0.1', resolve));
    try {
      await stack.waitForLine(/cannot reach Redis/);
      const started = Date.now();
      await stack.worker!.stop();
      await stack.api!.stop();
      // The step that waited, if one did, is named in its log line.
      expect(stack.logs.filter((l) => l.includes('shutdown step failed'))).toEqual([]);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { readRedisSettings } from '../src/infra/redis-settings.js';
import { removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, type Stack } from './helpers/stack.js';

const readyz = async (stack: Stack) => {
  const res = await stack.get('/readyz', { key: null });
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
};
const settingWarnings = (stack: Stack) =>
  stack.logs.filter((l) => /Redis runs with/.test(l)).map((l) => JSON.parse(l) as { level: string; msg: string });

describe('Redis settings holdq depends on', () => {
  describe('when Redis runs with appendonly no and an evicting maxmemory-policy', () => {
    let redis: RedisProcess;
    let stack: Stack;
    let bullmqWarn: ReturnType<typeof jest.spyOn>;
    beforeAll(async () => {
      // BullMQ prints its own console.warn about the eviction policy; keep the test output quiet.
      bullmqWarn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      redis = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
      stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
    });
    afterAll(async () => {
      await stack.stop();
      await redis.stop();
      removeDir(redis.dir);
      bullmqWarn.mockRestore();
    });

    it('then each is warned about once, and /readyz shows them but stays ready', async () => {
      await stack.waitForLine(/maxmemory-policy allkeys-lru/);
      await stack.waitForLine(/appendonly no/);
      expect(settingWarnings(stack)).toEqual(
        [
          {
            level: 'warn',
            msg: expect.stringMatching(
              /^Redis runs with appendonly no: a Redis restart loses intents holdq accepted; run it with appendonly yes/,
            ),
          },
          {
            level: 'warn',
            msg: expect.stringMatching(
              /^Redis runs with maxmemory-policy allkeys-lru: .*; set maxmemory-policy noeviction/,
            ),
          },
        ].map((m) => expect.objectContaining(m)),
      );
      const ready = await readyz(stack);
      expect(ready.status).toBe(200);
      expect(ready.checks).toMatchObject({
        redis: 'ok',
        redis_persistence: 'appendonly no: a Redis restart loses accepted intents',
        redis_eviction: expect.stringMatching(/^allkeys-lru: Redis may evict/),
      });
    });
  });

  describe('when Redis runs with appendonly yes and noeviction', () => {
    let redis: RedisProcess;
    let stack: Stack;
    beforeAll(async () => {
      redis = await startRedisServer({ args: ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction'] });
      stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
    });
    afterAll(async () => {
      await stack.stop();
      await redis.stop();
      removeDir(redis.dir);
    });

    it('then nothing is warned about and /readyz says both are right', async () => {
      await stack.waitForLine(/Redis settings read/);
      expect((await readyz(stack)).checks).toMatchObject({
        redis_persistence: 'appendonly yes',
        redis_eviction: 'noeviction',
      });
      expect(settingWarnings(stack)).toEqual([]);
    });
  });

  describe('when INFO cannot be read (an ACL that refuses it, as some managed services do)', () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedisServer();
      const admin = new Redis(redis.url);
      await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~*', '&*', '+@all', '-info');
      admin.disconnect();
    });
    afterAll(async () => {
      await redis.stop();
      removeDir(redis.dir);
    });

    it('then both settings are unknown, with the reason, and nothing is warned about', async () => {
      // No ready check: ioredis's own runs INFO too, and prints a console warning when it is refused.
      const limited = new Redis(`redis://limited:limited-pw@127.0.0.1:${redis.port}`, { enableReadyCheck: false });
      try {
        const settings = await readRedisSettings(limited);
        expect(settings).toEqual({
          redis_persistence: expect.stringMatching(/^unknown \(INFO persistence: NOPERM/),
          redis_eviction: expect.stringMatching(/^unknown \(INFO memory: NOPERM/),
          warnings: [],
        });
      } finally {
        limited.disconnect();
      }
    });
  });
});

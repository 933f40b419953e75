import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('leak probe', () => {
  let redis: RedisProcess;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    const before = process.getActiveResourcesInfo();
    await stack.stop();
    await redis.stop();
    removeDir(redis.dir);
    await new Promise((r) => setTimeout(r, 3000));
    console.log('before', before, 'after', process.getActiveResourcesInfo());
  });
  it('x', async () => {
    await redis.stop();
    const res = await stack.post({ type: 'hold', call_uuid: 'c' });
    expect(res.status).toBe(503);
    redis = await startRedisServer({ port: redis.port, dir: redis.dir });
  });
});

import { afterAll, beforeAll } from '@jest/globals';
import { hasRedisServer, removeDir, startRedisServer, type RedisProcess } from './redis-server.js';

/**
 * Every test file gets a private redis-server on a free port when the binary
 * exists (CI installs it), so files cannot disturb each other and a test may
 * stop and restart its Redis. Without the binary the suite uses REDIS_URL.
 */
let redis: RedisProcess | undefined;

beforeAll(async () => {
  if (hasRedisServer()) {
    redis = await startRedisServer();
    process.env.HOLDQ_TEST_REDIS_URL = redis.url;
  } else {
    process.env.HOLDQ_TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  }
});

afterAll(async () => {
  if (redis) {
    await redis.stop();
    removeDir(redis.dir);
  }
});

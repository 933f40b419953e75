import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createCallStore } from '../../src/infra/call-state.js';
import { createIntentJobs } from '../../src/infra/intent-queue.js';
import { createIntentStore } from '../../src/infra/intent-store.js';
import { createJobInsert } from '../../src/infra/job-insert.js';
import { createKeys } from '../../src/infra/keys.js';
import { createQueueStore } from '../../src/infra/queue-store.js';

/**
 * holdq's Redis-side stores on this test file's Redis, under a key prefix of their own
 * (`name` and a random tail unless `prefix` is given), wired as the worker wires them.
 */
export function openStores(name: string, opts: { prefix?: string; attempts?: number; redis?: Redis } = {}) {
  const prefix = opts.prefix ?? `${name}-${randomUUID().slice(0, 8)}`;
  const redis = opts.redis ?? new Redis(process.env.HOLDQ_TEST_REDIS_URL!);
  const keys = createKeys(prefix);
  const queue = createIntentJobs(redis, { prefix, attempts: opts.attempts ?? 5 });
  return {
    prefix,
    redis,
    keys,
    queue,
    store: createIntentStore(redis, keys, { retentionSeconds: 3600, jobs: createJobInsert(queue) }),
    calls: createCallStore(redis, keys),
    // The defaults: an hour's window, 20 s (STATS_WINDOW_SECONDS, service_level_seconds).
    queues: createQueueStore(redis, keys, { statsWindow: () => ({ windowSeconds: 3600, thresholdSeconds: 20 }) }),
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}

export type Stores = ReturnType<typeof openStores>;

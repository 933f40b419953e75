import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { intentInput, type IntentRecord } from '../src/domain/intent.js';
import { createXmlLinks } from '../src/domain/transfers.js';
import type { CallStore } from '../src/infra/call-state.js';
import type { IntentJobData, IntentQueue } from '../src/infra/intent-queue.js';
import type { IntentStore } from '../src/infra/intent-store.js';
import type { Keys } from '../src/infra/keys.js';
import { createPlivoClient, type PlivoClient } from '../src/infra/plivo-client.js';
import { memberScore, type QueueStore } from '../src/infra/queue-store.js';
import { createRateLimiter } from '../src/infra/rate-limiter.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createIntentProcessor } from '../src/worker/process-intent.js';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { testConfig } from './helpers/stack.js';
import { openStores, type Stores } from './helpers/stores.js';

/** When BullMQ gives up on a job itself (stalled too often), the intent still ends cleanly. */
describe('a job BullMQ fails on its own', () => {
  let redis: Redis;
  let queue: IntentQueue;
  let store: IntentStore;
  let queues: QueueStore;
  let plivo: PlivoClient;
  let fake: Awaited<ReturnType<typeof startFakePlivo>>;
  let processor: ReturnType<typeof createIntentProcessor>;
  let keys: Keys;
  let stores: Stores;

  beforeAll(async () => {
    fake = await startFakePlivo({ latencyMs: [0, 0], failureRate: 0 });
    const config = testConfig({ PLIVO_BASE_URL: fake.url });
    let calls: CallStore;
    ({ redis, keys, queue, store, calls, queues } = stores = openStores('job-failed', { prefix: config.QUEUE_PREFIX, attempts: 3 }));
    plivo = createPlivoClient({ baseUrl: fake.url, authId: 'TEST', authToken: 'test-token', timeoutMs: 1000 });
    processor = createIntentProcessor({
      config,
      store,
      calls,
      queues,
      queue,
      plivo,
      limiter: createRateLimiter(redis, keys.plivoRate(), 100, { holdMs: 2000 }),
      links: createXmlLinks(config.PUBLIC_BASE_URL),
      metrics: createMetrics(new Registry(), { defaults: false }),
      logger: createLogger('silent'),
    });
  });
  afterAll(async () => {
    plivo.close();
    await stores.close();
    await fake.stop();
  });

  it('when a dequeue that had taken a caller stalls for good, then the caller is back in its place and the intent fails', async () => {
    const callers = [`first-${randomUUID()}`, `second-${randomUUID()}`];
    for (const caller of callers) {
      const put = await store.accept({ client: 'test', request: intentInput.parse({ type: 'enqueue', call_uuid: caller, queue: 'sales' }) });
      if (put.kind !== 'created') throw new Error(put.kind);
      // What the enqueue's run leaves: the caller in line (as apply_effect puts it there).
      const joined = Date.now() + callers.indexOf(caller);
      await redis.zadd(keys.queue('sales'), memberScore(0, joined), caller);
      await redis.zadd(keys.queueTimes('sales'), joined, caller);
    }
    const line = async () => (await queues.members('sales')).map((m) => m.call_uuid);
    expect(await line()).toEqual(callers);

    const accepted = await store.accept({ client: 'test', request: intentInput.parse({ type: 'dequeue', queue: 'sales', agent_call_uuid: `agent-${randomUUID()}` }) });
    if (accepted.kind !== 'created') throw new Error(accepted.kind);
    // A run took the first caller, saved it, and then its worker stalled.
    const record: IntentRecord = { ...accepted.record, status: 'running', attempts: 1, member: await queues.take('sales') };
    await store.save(record);
    expect(await line()).toEqual([callers[1]]);

    const job = await queue.getJob(record.id);
    await processor.onJobFailed(job as Job<IntentJobData>, new Error('job stalled more than allowable limit'));

    expect(await line()).toEqual(callers);
    expect(await store.get(record.id)).toMatchObject({ status: 'failed', error: { code: 'upstream_unavailable' }, member: null });
    // The caller was never moved, so nothing had to bring it back to the waiting room.
    expect(fake.transfers).toEqual([]);
  });
});

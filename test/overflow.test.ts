import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { intentInput } from '../src/domain/intent.js';
import type { CallStore } from '../src/infra/call-state.js';
import type { IntentJobs } from '../src/infra/intent-queue.js';
import type { IntentStore } from '../src/infra/intent-store.js';
import type { Keys } from '../src/infra/keys.js';
import type { QueueStore } from '../src/infra/queue-store.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createOverflowHandler } from '../src/worker/overflow.js';
import { openStores, type Stores } from './helpers/stores.js';

/**
 * A caller past its max wait leaves its queue inside the accept of the intent that moves it
 * (a claim), so it is never out of line without that intent.
 */
describe('overflow: the caller leaves its queue with the intent that moves it, or not at all', () => {
  let redis: Redis;
  let queue: IntentJobs;
  let store: IntentStore;
  let calls: CallStore;
  let queues: QueueStore;
  let keys: Keys;
  let registry: Registry;
  let overflow: ReturnType<typeof createOverflowHandler>;

  let stores: Stores;

  beforeAll(() => {
    ({ redis, keys, queue, store, calls, queues } = stores = openStores('overflow'));
    registry = new Registry();
    overflow = createOverflowHandler({
      account: { name: 'default' },
      store,
      calls,
      metrics: createMetrics(registry, { defaults: false }),
      logger: createLogger('silent'),
    });
  });
  afterAll(() => stores.close());

  /** A caller waiting in `name` since `since`, put there by intent `intentId`. */
  async function waiting(name: string, intentId: string, since = Date.now() - 5000) {
    const callUuid = `caller-${randomUUID()}`;
    await calls.apply(callUuid, { state: 'queued', queue: name, held_legs: null }, await calls.get(callUuid));
    await redis.zadd(keys.queueTimes(name), since, callUuid);
    await redis.hset(keys.call(callUuid), 'last_intent_id', intentId);
    return callUuid;
  }
  const jobCount = async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);

  it('when a waiting caller is claimed, then it leaves both queue indexes and the intent is created with when it had joined', async () => {
    const since = Date.now() - 7000;
    const caller = await waiting('claim-q', 'e1', since);
    const result = await store.accept({
      client: 'holdq',
      request: intentInput.parse({ type: 'enqueue', call_uuid: caller, queue: 'spill' }),
      claim: { queue: 'claim-q', callUuid: caller },
    });
    expect(result).toMatchObject({ kind: 'created', claimedSince: since });
    expect(await queues.position('claim-q', caller)).toBeNull();
    expect(await redis.zscore(keys.queueTimes('claim-q'), caller)).toBeNull();
  });

  it('when the caller to claim is no longer in line, then nothing is written: no record, no job', async () => {
    const jobsBefore = await jobCount();
    const id = randomUUID();
    const result = await store.accept({
      id,
      client: 'holdq',
      request: intentInput.parse({ type: 'enqueue', call_uuid: 'nobody', queue: 'spill' }),
      claim: { queue: 'claim-q', callUuid: 'nobody' },
    });
    expect(result).toEqual({ kind: 'not_waiting' });
    expect(await store.get(id)).toBeNull();
    expect(await jobCount()).toBe(jobsBefore);
  });

  it('when a caller overflows, then it moves with a new intent, counted once, and a second run of the job changes nothing', async () => {
    const caller = await waiting('vip', 'enqueue-1');
    expect(await overflow({ callUuid: caller, queue: 'vip', intentId: 'enqueue-1', overflow: 'spill' })).toBe('moved');
    expect(await queues.position('vip', caller)).toBeNull();
    const [pending] = await redis.zrange(keys.pending(caller), 0, -1);
    expect(await store.get(pending!)).toMatchObject({
      client: 'holdq',
      status: 'queued',
      request: intentInput.parse({ type: 'enqueue', call_uuid: caller, queue: 'spill' }),
    });

    expect(await overflow({ callUuid: caller, queue: 'vip', intentId: 'enqueue-1', overflow: 'spill' })).toBe('moved');
    expect(await redis.zrange(keys.pending(caller), 0, -1)).toEqual([pending]);
    expect(await registry.getSingleMetricAsString('holdq_queue_wait_seconds')).toMatch(
      /holdq_queue_wait_seconds_count\{queue="vip",outcome="overflow",account="default"\} 1$/m,
    );
  });

  it('when the overflow intent is refused, then the caller stays in its queue, in its place', async () => {
    await waiting('keep', 'enqueue-a');
    const caller = await waiting('keep', 'enqueue-b');
    const line = async () => (await queues.members('keep')).map((m) => [m.call_uuid, m.priority]);
    const before = await line();
    // The job's idempotency key already names another request: the accept is refused.
    await store.accept({
      client: 'holdq',
      request: { type: 'hold', call_uuid: caller, legs: 'aleg' },
      idempotencyKey: 'overflow-enqueue-b',
    });
    expect(await overflow({ callUuid: caller, queue: 'keep', intentId: 'enqueue-b', overflow: 'spill' })).toBe(
      'skipped',
    );
    expect(before).toHaveLength(2);
    expect(await line()).toEqual(before);
    expect(await redis.zscore(keys.queueTimes('keep'), caller)).not.toBeNull();
  });

  it('when a dequeue took the caller first, then the overflow does nothing', async () => {
    const caller = await waiting('race', 'enqueue-r');
    await queues.take('race', caller);
    expect(await overflow({ callUuid: caller, queue: 'race', intentId: 'enqueue-r', overflow: 'spill' })).toBe(
      'skipped',
    );
    expect(await redis.zcard(keys.pending(caller))).toBe(0);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { memberScore } from '../src/infra/queue-store.js';
import { QUEUE_STATS, QUEUE_TAKE } from '../src/infra/scripts.js';
import { redisUrl } from './helpers/stack.js';

/**
 * The waiting-time estimator (lua/includes/queue-events.lua) on its own, with fixed histories: a
 * queue's stats hash and members written by hand, then read through queue-stats.lua as the API
 * reads them. The formula is the README's ("Estimated wait"); each case is worked out beside it.
 */
let redis: Redis;
let p: string;
const k = (name: string) => `${p}:${name}`;
const NOW = Date.UTC(2026, 11, 2, 12);

beforeAll(() => {
  redis = new Redis(redisUrl());
});
afterAll(() => redis.disconnect());

/** queue-stats.lua at NOW: a joiner's estimate, the counts, and the members' estimates. */
async function stats(opts: { member?: string; thresholdMs?: number; sinceMs?: number } = {}) {
  const reply = await QUEUE_STATS.run(
    redis,
    { queue: k('queue:q'), stats: k('queue:q:stats'), outcomes: k('queue:q:outcomes') },
    {
      now_ms: NOW,
      limit: 10,
      join_score: memberScore(0, NOW),
      since_ms: opts.sinceMs ?? NOW - 3600_000,
      threshold_ms: opts.thresholdMs ?? 20_000,
      member: opts.member ?? '',
    },
  );
  const v = reply.values;
  const members: Record<string, unknown> = {};
  for (let i = 6; i + 2 < v.length; i += 3) members[String(v[i])] = v[i + 2];
  return { joining: v[0], answered: v[1], within: v[2], abandoned: v[3], overflowed: v[4], member: v[5], members };
}

/** Members who joined `agoS` seconds ago with `priority`, in that order. */
async function members(...list: [string, number, number][]) {
  for (const [call, priority, agoS] of list)
    await redis.zadd(k('queue:q'), memberScore(priority, NOW - agoS * 1000), call);
}

describe('the estimated wait, from fixed histories', () => {
  beforeEach(() => {
    p = `est${randomUUID().slice(0, 8)}`;
  });

  it('when a queue has never had a caller taken while others waited, then there is no estimate', async () => {
    await members(['a', 0, 30], ['b', 0, 20]);
    // Lua's false is Redis's nil.
    expect(await stats()).toMatchObject({ joining: null, members: { a: null, b: null } });
  });

  it('when callers are taken every 60 s and the last was 10 s ago, then the first waits the 50 s left, each next one 60 s more', async () => {
    await redis.hset(k('queue:q:stats'), 's', 60_000, 'n', 5, 'last_take', NOW - 10_000, 'busy_since', NOW - 900_000);
    await members(['a', 0, 300], ['b', 0, 200], ['c', 0, 100]);
    // position k: (k - 1) × 60 + max(60 - 10, 30)
    expect(await stats()).toMatchObject({ joining: 230, members: { a: 50, b: 110, c: 170 } });
  });

  it('when the current service is nearly done, then what is left of it counts at least half a place', async () => {
    await redis.hset(k('queue:q:stats'), 's', 60_000, 'n', 5, 'last_take', NOW - 55_000);
    await members(['a', 0, 300], ['b', 0, 200]);
    // max(60 - 55, 30) = 30
    expect((await stats()).members).toEqual({ a: 30, b: 90 });
  });

  it('when nobody has been taken for longer than the usual time, then the estimate grows with the wait (agents who left)', async () => {
    await redis.hset(k('queue:q:stats'), 's', 60_000, 'n', 5, 'last_take', NOW - 200_000);
    await members(['a', 0, 300], ['b', 0, 250]);
    // s' = 200; rest = max(200 - 200, 100) = 100
    expect((await stats()).members).toEqual({ a: 100, b: 300 });
  });

  it('when callers of a higher priority keep arriving, then those behind them are estimated longer, and they are not', async () => {
    // Three priority-5 callers in the last moment: a rate of 3 per 600 s, so 0.3 of each 60 s place.
    await redis.hset(k('queue:q:stats'), 's', 60_000, 'n', 5, 'last_take', NOW - 10_000, 'jc:5', 3, 'jt:5', NOW);
    await members(['vip', 5, 5], ['a', 0, 300]);
    // vip: 50 (nobody above it); a: (60 + 50) / (1 - 0.3) = 157.1
    expect((await stats()).members).toEqual({ vip: 50, a: 157 });
    // Ten minutes later the counter has decayed by e: 3/e per 600 s, a share of 0.11.
    await redis.hset(k('queue:q:stats'), 'jt:5', NOW - 600_000);
    expect((await stats()).members).toEqual({ vip: 50, a: 124 });
  });

  it('when a member waits past the first ten, then its own estimate is still there (the waiting room asks for one caller)', async () => {
    await redis.hset(k('queue:q:stats'), 's', 10_000, 'n', 5, 'last_take', NOW);
    for (let i = 0; i < 15; i++) await members([`m${i}`, 0, 100 - i]);
    const read = await stats({ member: 'm14' });
    expect(Object.keys(read.members)).toHaveLength(10);
    // position 15: 14 × 10 + 10
    expect(read.member).toBe(150);
  });

  it('when callers are taken, then the time between takes while callers waited becomes the time per place', async () => {
    const take = (atMs: number) =>
      QUEUE_TAKE.run(
        redis,
        {
          queue: k('queue:q'),
          queue_times: k('queue:q:since'),
          queue_index: k('queue-index'),
          queue_activity: k('queue-activity'),
          stats: k('queue:q:stats'),
          events: k('events'),
        },
        { call_uuid: '', queue_name: 'q', now_ms: atMs, events_max: 1000 },
      );
    await members(['a', 0, 100], ['b', 0, 90], ['c', 0, 80]);
    await redis.hset(k('queue:q:stats'), 'busy_since', NOW - 100_000);
    await take(NOW - 40_000); // 60 s after callers began to wait: the first time per place
    expect(await redis.hmget(k('queue:q:stats'), 's', 'n')).toEqual(['60000', '1']);
    await take(NOW - 20_000); // 20 s later: 60 + 0.25 × (20 - 60) = 50
    expect(await redis.hmget(k('queue:q:stats'), 's', 'n')).toEqual(['50000', '2']);
    // Each take moved those behind up: queue.position events, with the estimate of the moment.
    const events = await redis.xrange(k('events'), '-', '+');
    const positions = events.map(([, f]) => JSON.parse(f[f.indexOf('data') + 1]!) as Record<string, unknown>);
    expect(positions.map((e) => [e.call_uuid, e.position])).toEqual([
      ['b', 1],
      ['c', 2],
      ['c', 1],
    ]);
  });
});

describe('the service level and the abandoned ratio, from fixed outcomes', () => {
  beforeAll(() => {
    p = `sl${randomUUID().slice(0, 8)}`;
  });

  it('when callers left in and out of the window, then only the window counts, and answered within the threshold is counted apart', async () => {
    const outcome = (agoS: number, reason: string, waitS: number, call: string) =>
      redis.zadd(k('queue:q:outcomes'), NOW - agoS * 1000, `${NOW - agoS * 1000}:${reason}:${waitS * 1000}:${call}`);
    await outcome(10, 'bridged', 5, 'a');
    await outcome(20, 'bridged', 19, 'b');
    await outcome(30, 'bridged', 45, 'c');
    await outcome(40, 'abandoned', 70, 'd');
    await outcome(50, 'overflow', 600, 'e');
    await outcome(50, 'moved', 3, 'f');
    await outcome(7200, 'bridged', 1, 'old');
    expect(await stats()).toMatchObject({ answered: 3, within: 2, abandoned: 1, overflowed: 1 });
    expect(await stats({ thresholdMs: 60_000 })).toMatchObject({ answered: 3, within: 3 });
    expect(await stats({ sinceMs: NOW - 25_000 })).toMatchObject({ answered: 2, within: 2, abandoned: 0 });
  });
});

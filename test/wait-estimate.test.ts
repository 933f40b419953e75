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

  /** A ring of times per place (ms), measured `agoMs` before NOW, as record_take leaves it. */
  const ring = (...times: number[]) => ringAt(0, ...times);
  const ringAt = (agoMs: number, ...times: number[]) => [
    ...times.flatMap((t, i) => [`x${i}`, t, `a${i}`, NOW - agoMs - i]),
    'xi',
    times.length % 50,
    'xn',
    times.length,
  ];

  it('when callers were taken every 40-80 s, then each waits its position times the mean, 60 s', async () => {
    await redis.hset(k('queue:q:stats'), ...ring(40_000, 80_000, 60_000), 'last_take', NOW - 10_000);
    await members(['a', 0, 300], ['b', 0, 200], ['c', 0, 100]);
    // position k: k × 60; a joiner now is fourth
    expect(await stats()).toMatchObject({ joining: 240, members: { a: 60, b: 120, c: 180 } });
  });

  it('when nobody has been taken for more than six places, then the estimate grows with the wait (agents who left)', async () => {
    await redis.hset(k('queue:q:stats'), ...ring(60_000), 'last_take', NOW - 600_000);
    await members(['a', 0, 900], ['b', 0, 800]);
    // s' = max(60, 600 / 6) = 100
    expect((await stats()).members).toEqual({ a: 100, b: 200 });
    // Within six places of the last take, the mean stands.
    await redis.hset(k('queue:q:stats'), 'last_take', NOW - 300_000);
    expect((await stats()).members).toEqual({ a: 60, b: 120 });
  });

  it('when the times per place are older than a minute and a half, then only the recent ones count, or the newest', async () => {
    // Two old times (10 s), two recent ones (30 s): the mean of the recent ones.
    await redis.hset(k('queue:q:stats'), ...ringAt(0, 30_000, 30_000), 'last_take', NOW);
    await redis.hset(k('queue:q:stats'), 'x2', 10_000, 'a2', NOW - 200_000, 'x3', 10_000, 'a3', NOW - 300_000, 'xn', 4);
    await members(['a', 0, 60]);
    expect((await stats()).members).toEqual({ a: 30 });
    // All of them old: the newest alone.
    await redis.hset(k('queue:q:stats'), 'a0', NOW - 100_000, 'a1', NOW - 150_000);
    expect((await stats()).members).toEqual({ a: 30 });
    await redis.hset(k('queue:q:stats'), 'a2', NOW - 95_000);
    expect((await stats()).members).toEqual({ a: 10 });
  });

  /** A ring of times per place (ms) with where each was measured from: true when from an empty queue. */
  const flaggedRing = (...samples: [number, boolean][]) => [
    ...samples.flatMap(([t, fromEmpty], i) => [`x${i}`, t, `a${i}`, NOW - i, `e${i}`, fromEmpty ? 1 : 0]),
    'xi',
    samples.length % 50,
    'xn',
    samples.length,
  ];
  const times = (n: number, ms: number, fromEmpty: boolean) =>
    Array.from({ length: n }, () => [ms, fromEmpty] as [number, boolean]);

  it("when a line grows after quiet minutes (callers who found the queue empty, then takes while callers waited all along), then the agents' pace counts for those in line, by how many times measured it", async () => {
    // Ten callers who found nobody ahead were taken after 1 s; ten takes while callers waited all
    // along came 4 s apart (every agent busy: the agents' pace). The mean of all is 2.5 s; the pace
    // weighs 10 / (10 + 20): s = 4 / 3 + 2.5 × 2 / 3 = 3 s a place.
    await redis.hset(
      k('queue:q:stats'),
      ...flaggedRing(...times(10, 1000, true), ...times(10, 4000, false)),
      'last_take',
      NOW,
    );
    await members(['a', 0, 3], ['b', 0, 2], ['c', 0, 1]);
    expect(await stats()).toMatchObject({ joining: 12, members: { a: 3, b: 6, c: 9 } });
    // Twenty times of the pace: the mean is 3 s, the pace weighs a half: 3.5 s a place.
    await redis.hset(k('queue:q:stats'), ...flaggedRing(...times(10, 1000, true), ...times(20, 4000, false)));
    expect(await stats()).toMatchObject({ joining: 14, members: { a: 4, b: 7, c: 11 } });
  });

  it('when a caller is alone in the queue, then it is estimated as callers who found the queue empty were served', async () => {
    await redis.hset(
      k('queue:q:stats'),
      ...flaggedRing(...times(10, 1000, true), ...times(10, 4000, false)),
      'last_take',
      NOW,
    );
    // Nobody waits: a caller joining now finds the queue empty, 1 s (agents were free for such callers).
    expect((await stats()).joining).toBe(1);
    await members(['a', 0, 0]);
    expect((await stats()).members).toEqual({ a: 1 });
    // Once somebody waits behind it, the line goes at the agents' pace: 3 s a place.
    await members(['b', 0, 0]);
    expect((await stats()).members).toEqual({ a: 3, b: 6 });
  });

  it('when callers of a higher priority keep arriving, then those behind them are estimated longer, and they are not', async () => {
    // Six priority-5 callers over the last 60 s, the last just now: a count of 6 over the 60 s it
    // covers (discounted as the decay would have: 54.4 s), 0.11 a second.
    await redis.hset(k('queue:q:stats'), ...ring(6000), 'last_take', NOW, 'jc:5', 6, 'jt:5', NOW, 'jf:5', NOW - 60_000);
    await members(['vip', 5, 5], ['a', 0, 300]);
    // vip: 1 × 6 = 6 (nobody above it); a: 2 × 6 / (1 - ρ), ρ = 6 / (300 × (1 - e^-0.2)) × 6 = 0.66 → 35.5
    expect((await stats()).members).toEqual({ vip: 6, a: 36 });
    // Five minutes later (no more of them), the count has decayed by e over 360 s covered: ρ = 0.063, a: 12.8.
    await redis.hset(k('queue:q:stats'), 'jt:5', NOW - 300_000, 'jf:5', NOW - 360_000);
    expect((await stats()).members).toEqual({ vip: 6, a: 13 });
  });

  it('when a member waits past the first ten, then its own estimate is still there (the waiting room asks for one caller)', async () => {
    await redis.hset(k('queue:q:stats'), ...ring(10_000), 'last_take', NOW);
    for (let i = 0; i < 15; i++) await members([`m${i}`, 0, 100 - i]);
    const read = await stats({ member: 'm14' });
    expect(Object.keys(read.members)).toHaveLength(10);
    // position 15: 15 × 10
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
          callbacks: k('queue:q:callbacks'),
          events: k('events'),
        },
        { call_uuid: '', queue_name: 'q', now_ms: atMs, events_max: 1000 },
      );
    await members(['a', 0, 100], ['b', 0, 90], ['c', 0, 80]);
    await redis.hset(k('queue:q:stats'), 'busy_since', NOW - 100_000);
    await take(NOW - 40_000); // 60 s after callers began to wait: the first time per place, from an empty queue
    expect(await redis.hmget(k('queue:q:stats'), 'x0', 'a0', 'e0', 'xi', 'xn')).toEqual([
      '60000',
      String(NOW - 40_000),
      '1',
      '1',
      '1',
    ]);
    await take(NOW - 20_000); // 20 s later, callers having waited all along: the agents' pace
    expect(await redis.hmget(k('queue:q:stats'), 'x0', 'x1', 'e1', 'xi', 'xn')).toEqual([
      '60000',
      '20000',
      '0',
      '2',
      '2',
    ]);
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

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createPlivoPacer } from '../src/infra/plivo-pacer.js';
import { RATE_SLOT } from '../src/infra/scripts.js';

/** Most arrivals in any 1 s window (half-open, as a receiver counting the trailing second sees them). */
function maxInAnySecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** A deterministic stream of numbers in [0, 1). */
function seeded(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/**
 * PLIVO_MAX_RPS is a cap at Plivo: never more than that many requests arriving in any
 * second, however late a request leaves after its slot (a busy event loop, a slow network).
 */
describe('the Plivo pacer', () => {
  let redis: Redis;
  let server: http.Server;
  let url: string;
  const arrivals: number[] = [];

  beforeAll(async () => {
    redis = new Redis(process.env.HOLDQ_TEST_REDIS_URL!);
    server = http.createServer((req, res) => {
      arrivals.push(performance.timeOrigin + performance.now());
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    redis.disconnect();
    await new Promise((resolve) => server.close(resolve));
  });

  it('when requests leave up to 300 ms after their slot, then the receiver still never sees more than the rate in any second', async () => {
    arrivals.length = 0;
    const pacer = createPlivoPacer(redis, `rl-${randomUUID()}`, 10, { holdMs: 2000 });
    const delay = seeded(42);
    const delays = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 300 * delay() : 0));
    await Promise.all(
      delays.map(async (lateMs) => {
        const permit = await pacer.acquire();
        await new Promise((r) => setTimeout(r, lateMs));
        await fetch(url, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer());
        permit.release();
      }),
    );
    expect(arrivals).toHaveLength(40);
    expect(maxInAnySecond(arrivals)).toBeLessThanOrEqual(10);
    // The stream is paced, not stopped: 40 at 10 a second is about 4 s, never under 3.
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(3000);
  });

  it('when many more requests wait than the rate admits and Plivo takes 100 ms, then none fails, the cap holds, and they do not crowd the guard', async () => {
    arrivals.length = 0;
    const key = `rl-${randomUUID()}`;
    const pacer = createPlivoPacer(redis, key, 20, { holdMs: 2000 });
    const scriptCalls = async () =>
      Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await scriptCalls();
    const loops = Array.from({ length: 40 }, async () => {
      for (let i = 0; i < 3; i++) {
        const permit = await pacer.acquire();
        await fetch(url, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer());
        await new Promise((r) => setTimeout(r, 100)); // Plivo's answer takes 100 ms
        permit.release();
      }
    });
    const outcomes = await Promise.allSettled(loops);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect(arrivals).toHaveLength(120);
    expect(maxInAnySecond(arrivals)).toBeLessThanOrEqual(20);
    // A booking, a release (batched) and a few second looks: not a storm of pollers all waking
    // when a place frees (which made 20 calls a request). Counted on this file's own redis-server.
    expect((await scriptCalls()) - before).toBeLessThan(120 * 7);
  });

  it('when a permit is discarded (its request will not be sent), then its place is freed; when it is abandoned (a timeout), it keeps it', async () => {
    const key = `rl-${randomUUID()}`;
    const pacer = createPlivoPacer(redis, key, 5, { holdMs: 60_000 });
    const [unused, timedOut] = [await pacer.acquire(), await pacer.acquire()];
    expect(await redis.zcard(`${key}:sent`)).toBe(2);
    unused.discard();
    timedOut.abandon();
    for (let i = 0; i < 100 && (await redis.zcard(`${key}:sent`)) !== 1; i++)
      await new Promise((r) => setTimeout(r, 20));
    const [, score] = await redis.zrange(`${key}:sent`, 0, -1, 'WITHSCORES');
    // The one left is the abandoned request, counted until its hold (a minute) runs out.
    expect(Number(score) / 1000).toBeGreaterThan(Date.now() + 50_000);
  });

  it('when Plivo answered 429 with Retry-After, then nobody is admitted before it has passed', async () => {
    const pacer = createPlivoPacer(redis, `rl-${randomUUID()}`, 100, { holdMs: 2000 });
    await pacer.penalize(600);
    const started = Date.now();
    (await pacer.acquire()).release();
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it('when requests are never released (their worker died), then they count until their hold has passed, then free their places', async () => {
    const pacer = createPlivoPacer(redis, `rl-${randomUUID()}`, 3, { holdMs: 300 });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await pacer.acquire(); // never released
    const fourth = await pacer.acquire();
    fourth.release();
    // Admitted no sooner than hold (300 ms) + window (1 s) after the first three.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1250);
  });

  it('when requests wait for the rate, then the lowest priority is served first, and equal priorities in arrival order', async () => {
    const pacer = createPlivoPacer(redis, `rl-${randomUUID()}`, 20, { holdMs: 2000 });
    const order: string[] = [];
    const take = async (name: string, priority: number) => {
      const permit = await pacer.acquire(priority);
      order.push(name);
      permit.release();
    };
    // Twelve bulk requests form a backlog of half a second; three urgent ones come 120 ms later.
    const bulk = Array.from({ length: 12 }, (_, i) => take(`bulk${i}`, 3 * 2 ** 19 + 1));
    await new Promise((r) => setTimeout(r, 120));
    const urgent = Array.from({ length: 3 }, (_, i) => take(`urgent${i}`, 1));
    await Promise.all([...bulk, ...urgent]);
    const firstUrgent = order.indexOf('urgent0');
    // Served next: the bulk requests already granted (at most the few due before the urgent came) go first.
    expect(firstUrgent).toBeLessThanOrEqual(5);
    expect(order.slice(firstUrgent, firstUrgent + 3)).toEqual(['urgent0', 'urgent1', 'urgent2']);
    expect(order.filter((n) => n.startsWith('bulk'))).toEqual(Array.from({ length: 12 }, (_, i) => `bulk${i}`));
  });

  it('when a waiter at the head of the line stops asking (its worker died), then the others are served without it and it leaves the line', async () => {
    const key = `rl-${randomUUID()}`;
    const pacer = createPlivoPacer(redis, key, 20, { holdMs: 2000, leaseMs: 400 });
    // A backlog (in line behind two granted), then a booking that joins the line at the top
    // priority and is never asked about again.
    const busy = Array.from({ length: 6 }, () => pacer.acquire(5).then((p) => p.release()));
    const dead = pacer.booking(0);
    await RATE_SLOT.run(redis, dead.keys, { op: 'reserve', ...dead.args });
    expect(await redis.zscore(`${key}:line`, dead.args.member)).not.toBeNull();
    const started = Date.now();
    for (let i = 0; i < 10; i++) (await pacer.acquire(5)).release();
    // Ten at 20 a second is half a second; a head that never comes costs each slot 30 ms at most.
    expect(Date.now() - started).toBeLessThan(2000);
    await Promise.all(busy);
    await new Promise((r) => setTimeout(r, 450));
    (await pacer.acquire(5)).release();
    expect(await redis.zscore(`${key}:line`, dead.args.member)).toBeNull();
  });

  it('when a booked wait is cancelled before its slot, then it leaves the line at once', async () => {
    const key = `rl-${randomUUID()}`;
    const pacer = createPlivoPacer(redis, key, 5, { holdMs: 2000 });
    // Two granted, one waiting in line: a booking of a better priority waits at the head.
    const busy = Array.from({ length: 3 }, () => pacer.acquire().then((p) => p.release()));
    const slot = pacer.booking(1);
    const settled = slot.settle(
      Number((await RATE_SLOT.run(redis, slot.keys, { op: 'reserve', ...slot.args })).values[0]),
    );
    expect(await redis.zscore(`${key}:line`, slot.args.member)).not.toBeNull();
    slot.cancel();
    await settled.catch(() => undefined);
    for (let i = 0; i < 100 && (await redis.zscore(`${key}:line`, slot.args.member)) !== null; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await redis.zscore(`${key}:line`, slot.args.member)).toBeNull();
    await Promise.all(busy);
  });
});

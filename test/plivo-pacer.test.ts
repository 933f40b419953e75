import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createPlivoPacer } from '../src/infra/plivo-pacer.js';

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
    expect((await scriptCalls()) - before).toBeLessThan(120 * 6);
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
});

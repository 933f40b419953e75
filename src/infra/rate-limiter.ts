import type { Redis } from 'ioredis';

/**
 * A global pacer for Plivo requests, shared by every worker through Redis (GCRA).
 * Each caller reserves the next free slot and is told how long to wait for it,
 * so requests leave evenly spaced instead of in bursts. Time comes from Redis,
 * so workers with skewed clocks still agree. Microseconds keep 1/rps exact.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat - now + interval) / 1000) + 1000)
return math.floor((tat - now) / 1000)
`;

/** After a 429, nobody sends before Retry-After has passed (no 429 storm). */
const PENALIZE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1]) * 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > tat then redis.call('SET', KEYS[1], tostring(until_), 'PX', tonumber(ARGV[1]) + 1000) end
return 1
`;

/**
 * Timers fire a little late, so two requests can leave closer together than
 * their slots. Pacing 1% under the configured rate keeps every 1-second window
 * at or under PLIVO_MAX_RPS despite that jitter.
 */
export const PACING_HEADROOM = 1.01;

export interface RateLimiter {
  /** Waits for this process's turn; resolves when the request may be sent. */
  acquire(signal?: AbortSignal): Promise<void>;
  penalize(ms: number): Promise<void>;
}

export function createRateLimiter(redis: Redis, key: string, maxPerSecond: number): RateLimiter {
  const intervalUs = Math.ceil((1_000_000 / maxPerSecond) * PACING_HEADROOM);
  return {
    async acquire() {
      const waitMs = Number(await redis.eval(RESERVE, 1, key, intervalUs));
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    },
    async penalize(ms) {
      await redis.eval(PENALIZE, 1, key, Math.ceil(ms));
    },
  };
}

import type { Redis } from 'ioredis';
import { luaScript } from './redis.js';

/**
 * The global pacer for Plivo requests, shared by every worker through Redis.
 * Each caller reserves a send time and is told how long to wait for it. Two rules
 * decide the slot, in one script:
 * - spacing (GCRA): slots are 1/rate apart, so a burst leaves as a steady stream;
 * - a hard cap: no window of WINDOW_MS + WINDOW_MARGIN_MS holds more than `rate`
 *   sends. Planned slots obey it, and every request confirms its slot at its real
 *   send time (see CONFIRM), so a timer that fires late cannot bunch requests:
 *   Plivo never sees more than `rate` requests in any second.
 * Time comes from Redis, so workers with skewed clocks still agree; microseconds
 * keep 1/rate exact.
 */
/**
 * Books the next slot; answers how many ms to wait for it. A Lua function, so another
 * script can book a slot in its own round trip (the worker's gate does, see call-state.ts).
 */
export const RESERVE_FUNCTION = `
local function reserve_slot(tat_key, window_key, interval, max, window, member)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local send = tonumber(redis.call('GET', tat_key) or '0')
  if send < now then send = now end
  redis.call('ZREMRANGEBYSCORE', window_key, '-inf', now - window)
  local count = redis.call('ZCOUNT', window_key, send - window, '+inf')
  if count >= max then
    local nth = redis.call('ZRANGEBYSCORE', window_key, send - window, '+inf', 'WITHSCORES', 'LIMIT', count - max, 1)
    local earliest = tonumber(nth[2]) + window
    if earliest > send then send = earliest end
  end
  redis.call('ZADD', window_key, send, member)
  redis.call('PEXPIRE', window_key, math.ceil((send - now + window) / 1000) + 1000)
  redis.call('SET', tat_key, tostring(send + interval), 'PX', math.ceil((send - now + interval) / 1000) + 1000)
  return math.floor((send - now) / 1000)
end
`;

const RESERVE = luaScript(`${RESERVE_FUNCTION}
return reserve_slot(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
`);

/**
 * Every request confirms its slot just before it is sent: its entry moves to the real
 * time, and if late timers have crowded the last window it waits a little more. So
 * the cap holds for actual send times, not just planned ones.
 */
const CONFIRM = luaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
local count = redis.call('ZCOUNT', KEYS[1], now - window, now)
if count <= max then return 0 end
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], now - window, now, 'WITHSCORES', 'LIMIT', 0, 1)
local at = tonumber(oldest[2]) + window + 1
redis.call('ZADD', KEYS[1], at, ARGV[3])
return math.ceil((at - now) / 1000)
`);

/** After a 429, nobody sends before Retry-After has passed (no 429 storm). */
const PENALIZE = luaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1]) * 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > tat then redis.call('SET', KEYS[1], tostring(until_), 'PX', tonumber(ARGV[1]) + 1000) end
return 1
`);

export const WINDOW_MS = 1000;
/** Slack for pauses between confirming a slot and the request reaching Plivo (GC, a busy event loop); costs ~3 % of the rate. */
export const WINDOW_MARGIN_MS = 30;

/** A slot for another script to book with RESERVE_FUNCTION: its keys, its arguments, and the wait once booked. */
export interface SlotBooking {
  keys: [tat: string, window: string];
  args: [intervalUs: number, maxPerSecond: number, windowUs: number, member: string];
  /** Waits out the booked slot (`waitMs`, what reserve_slot answered); resolves when the request may be sent. */
  settle(waitMs: number): Promise<void>;
}

export interface RateLimiter {
  /** Waits for this request's slot; resolves when it may be sent. */
  acquire(): Promise<void>;
  /** A slot to book inside another script, saving the round trip acquire() makes. */
  booking(): SlotBooking;
  penalize(ms: number): Promise<void>;
}

export function createRateLimiter(redis: Redis, key: string, maxPerSecond: number): RateLimiter {
  const intervalUs = Math.ceil(1_000_000 / maxPerSecond);
  const windowUs = (WINDOW_MS + WINDOW_MARGIN_MS) * 1000;
  let seq = 0;
  const tag = Math.random().toString(36).slice(2, 10);
  async function settle(member: string, waitMs: number) {
    // A slot free now was booked at the real send time already.
    if (waitMs <= 0) return;
    // A slot in the future is confirmed at the moment of sending: a request delayed after its
    // reservation (a late timer) then counts where it really goes, never where it was planned.
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Number(await CONFIRM(redis, 1, `${key}:window`, maxPerSecond, windowUs, member));
      if (waitMs <= 0) return;
    }
  }
  function booking(): SlotBooking {
    const member = `${tag}:${seq++}`;
    return { keys: [key, `${key}:window`], args: [intervalUs, maxPerSecond, windowUs, member], settle: (waitMs) => settle(member, waitMs) };
  }
  return {
    booking,
    async acquire() {
      const slot = booking();
      await slot.settle(Number(await RESERVE(redis, 2, ...slot.keys, ...slot.args)));
    },
    async penalize(ms) {
      await PENALIZE(redis, 1, key, Math.ceil(ms));
    },
  };
}

import type { Redis } from 'ioredis';
import { luaScript } from './redis.js';

export const WINDOW_MS = 1000;
/** Slack in the plan only (the guard needs none): a steadier stream at ~3 % of the rate. */
export const WINDOW_MARGIN_MS = 30;
/**
 * Releases leave in batches this often: one command for many answers instead of one each.
 * A request then counts up to this much longer than it must (later, never earlier: safe).
 */
const RELEASE_BATCH_MS = 10;

/**
 * The global pacer for Plivo requests, shared by every worker through Redis.
 * Time comes from Redis, so workers with skewed clocks still agree; microseconds
 * keep 1/rate exact. Two parts:
 * - the plan (GCRA): each request books a send time 1/rate after the last, and no
 *   planned window of WINDOW_MS + WINDOW_MARGIN_MS holds more than `rate`, so a burst
 *   leaves as a steady stream at the rate;
 * - the guard, which makes the cap hold where Plivo counts, at arrival: a request is
 *   admitted, at the moment it is sent, only while fewer than `rate` others may still
 *   arrive inside the trailing WINDOW_MS. A request is sure to have arrived once its
 *   answer is back, so each admitted request holds its place until it is released
 *   after the answer (or, should its worker die, until the request timeout has passed).
 *   A request that waits after admission (a busy event loop, a slow network) can then
 *   never crowd a second at Plivo: the guard counts it until its answer is in.
 */

/**
 * admit: the guard. `hold` is how long an unreleased request counts as in flight.
 * Answers 0 (admitted) or the ms to wait before asking again: until the answers that
 * block leave the window, or, when one of them is still in flight, a whole window (its
 * answer, whenever it comes, counts for a window after it: nothing frees sooner).
 */
const ADMIT_FUNCTION = `
local function admit(sent_key, now, max, window, hold, member)
  redis.call('ZREMRANGEBYSCORE', sent_key, '-inf', now - window)
  local count = redis.call('ZCARD', sent_key)
  if count < max then
    -- No expiry: every call trims the set to the last window, so an idle one keeps at most \`max\` entries.
    redis.call('ZADD', sent_key, now + hold, member)
    return 0
  end
  local nth = tonumber(redis.call('ZRANGE', sent_key, count - max, count - max, 'WITHSCORES')[2])
  if nth > now then return math.ceil(window / 1000) end
  return math.max(1, math.ceil((nth + window - now) / 1000))
end
`;

/**
 * Books the next slot of the plan; answers how many ms to wait for it (0: due now, and
 * admitted by the guard). A Lua function, so another script can book a slot in its own
 * round trip (the worker's gate does, see call-state.ts).
 */
export const RESERVE_FUNCTION = `${ADMIT_FUNCTION}
local function reserve_slot(tat_key, window_key, sent_key, interval, max, window, member, guard_window, hold)
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
  if send > now then return math.ceil((send - now) / 1000) end
  return admit(sent_key, now, max, guard_window, hold, member)
end
`;

const RESERVE = luaScript(`${RESERVE_FUNCTION}
return reserve_slot(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
`);

/** Asks the guard at the moment of sending (a slot that was due later than its booking). */
const ADMIT = luaScript(`${ADMIT_FUNCTION}
local t = redis.call('TIME')
return admit(KEYS[1], tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
`);

/** The answers are in: each request counts from now for one more window, then no more. */
const RELEASE = luaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i]) end
return #ARGV
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


/** Leave to send one request. `release()` once its answer is in (or it will not be sent); idempotent. */
export interface Permit {
  release(): void;
}

/** A slot for another script to book with RESERVE_FUNCTION: its keys, its arguments, and the wait once booked. */
export interface SlotBooking {
  keys: [tat: string, window: string, sent: string];
  args: [intervalUs: number, maxPerSecond: number, windowUs: number, member: string, guardWindowUs: number, holdUs: number];
  /** Waits out the booked slot (`waitMs`, what reserve_slot answered); resolves when the request may be sent. */
  settle(waitMs: number): Promise<Permit>;
}

export interface RateLimiter {
  /** Waits for a slot; resolves when the request may be sent. */
  acquire(): Promise<Permit>;
  /** A slot to book inside another script, saving the round trip acquire() makes. */
  booking(): SlotBooking;
  penalize(ms: number): Promise<void>;
}

/**
 * `holdMs`: how long a request that is never released (its worker died) keeps counting:
 * at least the request timeout, after which its answer can no longer come.
 */
export function createRateLimiter(redis: Redis, key: string, maxPerSecond: number, opts: { holdMs: number }): RateLimiter {
  const intervalUs = Math.ceil(1_000_000 / maxPerSecond);
  const windowUs = (WINDOW_MS + WINDOW_MARGIN_MS) * 1000;
  const guardWindowUs = WINDOW_MS * 1000;
  const holdUs = Math.ceil(opts.holdMs) * 1000;
  const sentKey = `${key}:sent`;
  // Long enough for every request that counts in the window to be answered or time out.
  const admitDeadlineMs = opts.holdMs + 2 * WINDOW_MS;
  let seq = 0;
  const tag = Math.random().toString(36).slice(2, 10);
  let toRelease: string[] = [];
  let flushing: NodeJS.Timeout | null = null;
  function flush() {
    flushing = null;
    const members = toRelease;
    toRelease = [];
    // A lost release only makes its request count until its hold runs out: later sends
    // wait longer, none goes early.
    RELEASE(redis, 1, sentKey, ...members).catch(() => undefined);
  }

  function permit(member: string): Permit {
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        toRelease.push(member);
        flushing ??= setTimeout(flush, RELEASE_BATCH_MS).unref();
      },
    };
  }
  async function settle(member: string, waitMs: number): Promise<Permit> {
    const deadline = Date.now() + Math.max(waitMs, 0) + admitDeadlineMs;
    while (waitMs > 0) {
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Number(await ADMIT(redis, 1, sentKey, maxPerSecond, guardWindowUs, holdUs, member));
      if (waitMs > 0 && Date.now() + waitMs > deadline) {
        throw new Error(`no Plivo rate slot within ${Math.round(admitDeadlineMs / 1000)} s (PLIVO_MAX_RPS=${maxPerSecond})`);
      }
    }
    return permit(member);
  }
  function booking(): SlotBooking {
    const member = `${tag}:${seq++}`;
    return {
      keys: [key, `${key}:window`, sentKey],
      args: [intervalUs, maxPerSecond, windowUs, member, guardWindowUs, holdUs],
      settle: (waitMs) => settle(member, waitMs),
    };
  }
  return {
    booking,
    async acquire() {
      const slot = booking();
      return slot.settle(Number(await RESERVE(redis, 3, ...slot.keys, ...slot.args)));
    },
    async penalize(ms) {
      await PENALIZE(redis, 1, key, Math.ceil(ms));
    },
  };
}

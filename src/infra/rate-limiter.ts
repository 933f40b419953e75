import type { Redis } from 'ioredis';
import { luaScript } from './redis.js';

export const WINDOW_MS = 1000;
/** The plan's least slack beyond the window (the measured answer time replaces it when longer). */
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
 * - the guard, which makes the cap hold where Plivo counts, at arrival: a request is
 *   admitted, at the moment it is sent, only while fewer than `rate` others may still
 *   arrive inside the trailing WINDOW_MS. A request is sure to have arrived once its
 *   answer is back, so each admitted request holds its place until it is released
 *   after the answer (or, should its worker die or Plivo not answer, until `hold` has
 *   passed). A request that waits after admission (a busy event loop, a slow network)
 *   then never crowds a second at Plivo.
 * - the plan (GCRA), which keeps the guard from being the one to say no: each request
 *   books a send time 1/rate after the last, and no planned window holds more than
 *   `rate`. The planned window is WINDOW_MS plus the time answers take (an average the
 *   releases keep, at least WINDOW_MARGIN_MS): what a place at the guard really lasts.
 *   So a burst leaves as a steady stream, in the order it was booked, at the rate the
 *   guard can admit, and requests do not crowd the guard waiting for the same place.
 * After a 429 nobody is admitted before its Retry-After has passed.
 */

/**
 * Redis's clock in µs (every worker reads the same one), and a time kept in a key until
 * a second after it has passed, written exactly (tostring keeps only 14 digits).
 */
const CLOCK_FUNCTIONS = `
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function set_until(key, at, now)
  redis.call('SET', key, string.format('%.0f', at), 'PX', math.ceil((at - now) / 1000) + 1000)
end
`;

/**
 * admit: the guard. k: tat, plan window, sent, answer time, pause, retry line. `hold` is
 * how long an unreleased request counts as in flight. Answers 0 (admitted) or the ms to
 * wait before asking again. A refused request gets a place in the retry line: no sooner
 * than the answers that block leave the window (when one of them is still in flight, a
 * whole window: its answer counts for a window after it comes, nothing frees sooner), or
 * than the pause after a 429 ends, and 1/rate after the last refused one, so refused
 * requests come back one by one, ahead of the rest of the plan, instead of all at once.
 */
const ADMIT_FUNCTION = `${CLOCK_FUNCTIONS}
local function retry_at(k, now, earliest, interval)
  local line = tonumber(redis.call('GET', k[6]) or '0')
  local send = earliest
  if line > send then send = line end
  set_until(k[6], send + interval, now)
  return send
end
local function admit(k, now, max, window, hold, member, interval)
  local pause = redis.call('PTTL', k[5])
  if pause > 0 then return math.ceil((retry_at(k, now, now + pause * 1000, interval) - now) / 1000) end
  redis.call('ZREMRANGEBYSCORE', k[3], '-inf', now - window)
  local count = redis.call('ZCARD', k[3])
  if count < max then
    -- No expiry: every call trims the set to the last window, and it never holds more than max.
    redis.call('ZADD', k[3], now + hold, member)
    return 0
  end
  local nth = tonumber(redis.call('ZRANGE', k[3], count - max, count - max, 'WITHSCORES')[2])
  local earliest = now + window
  if nth <= now then earliest = nth + window end
  local send = retry_at(k, now, earliest, interval)
  redis.call('ZADD', k[2], send, member)
  local keep = math.ceil((send - now + 2 * window) / 1000) + 1000
  if redis.call('PTTL', k[2]) < keep then redis.call('PEXPIRE', k[2], keep) end
  return math.max(1, math.ceil((send - now) / 1000))
end
`;

/**
 * Books the next slot of the plan; answers how many ms to wait for it (0: due now, and
 * admitted by the guard). A Lua function, so another script can book a slot in its own
 * round trip (the worker's gate does, see call-state.ts).
 * keys: tat, plan window, sent (the guard), answer time, pause, retry line.
 * args: interval µs, max, window µs, least margin µs, member, hold µs.
 */
export const RESERVE_FUNCTION = `${ADMIT_FUNCTION}
local function reserve_slot(k, interval, max, window, margin, member, hold)
  local now = now_us()
  local answer = tonumber(redis.call('GET', k[4]) or '0')
  if answer > margin then margin = answer end
  local span = window + margin
  local send = tonumber(redis.call('GET', k[1]) or '0')
  if send < now then send = now end
  redis.call('ZREMRANGEBYSCORE', k[2], '-inf', now - span)
  local count = redis.call('ZCOUNT', k[2], send - span, '+inf')
  if count >= max then
    local nth = redis.call('ZRANGEBYSCORE', k[2], send - span, '+inf', 'WITHSCORES', 'LIMIT', count - max, 1)
    local earliest = tonumber(nth[2]) + span
    if earliest > send then send = earliest end
  end
  redis.call('ZADD', k[2], send, member)
  redis.call('PEXPIRE', k[2], math.ceil((send - now + span) / 1000) + 1000)
  set_until(k[1], send + interval, now)
  -- Less than a millisecond ahead is due now (a timer could not wait less; the guard keeps the cap).
  if send - now >= 1000 then return math.ceil((send - now) / 1000) end
  return admit(k, now, max, window, hold, member, interval)
end
`;

const RESERVE = luaScript(`${RESERVE_FUNCTION}
return reserve_slot(KEYS, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]))
`);

/** Asks the guard at the moment of sending (a slot that was due later than its booking). KEYS and ARGV as RESERVE's. */
const ADMIT = luaScript(`${ADMIT_FUNCTION}
return admit(KEYS, now_us(), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[6]), ARGV[5], tonumber(ARGV[1]))
`);

/**
 * ARGV: hold µs, grace µs, n answered, n abandoned, then the members: answered, abandoned,
 * discarded. An answered request counts from now for one more window, then no more, and
 * the average answer time (KEYS[2], for the plan) takes in how long it took. An abandoned
 * one (a timeout, a broken connection: it may still be on its way) counts until `grace`
 * from now at least. A discarded one (never sent) stops counting at once.
 */
const RELEASE = luaScript(`${CLOCK_FUNCTIONS}
local now = now_us()
local hold, grace, answered, abandoned = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local answer = tonumber(redis.call('GET', KEYS[2]) or '0')
local seen = false
for i = 5, 4 + answered do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    local took = now - (tonumber(score) - hold)
    if took >= 0 and took <= hold then answer = answer + (took - answer) / 8; seen = true end
    redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i])
  end
end
for i = 5 + answered, 4 + answered + abandoned do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) < now + grace then redis.call('ZADD', KEYS[1], 'XX', now + grace, ARGV[i]) end
end
for i = 5 + answered + abandoned, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
if seen then redis.call('SET', KEYS[2], tostring(math.floor(answer)), 'PX', 600000) end
return answered
`);

/**
 * After a 429, nobody is admitted before Retry-After has passed (no 429 storm), and the
 * plan starts again after it. KEYS: pause, tat.
 */
const PENALIZE = luaScript(`${CLOCK_FUNCTIONS}
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
local now = now_us()
local until_ = now + ms * 1000
if until_ > tonumber(redis.call('GET', KEYS[2]) or '0') then set_until(KEYS[2], until_, now) end
return 1
`);

/** Leave to send one request. Idempotent; after one of them the others do nothing. */
export interface Permit {
  /** How long the request waited for this permit, from its booking. */
  waitedMs: number;
  /** The request was sent and answered: it counts for one more window. */
  release(): void;
  /** The request will not be sent: its place is freed at once. */
  discard(): void;
  /** The request was sent but no answer came (a timeout, a broken connection): it may still be on its way, so it counts a while longer. */
  abandon(): void;
}

/** A slot for another script to book with RESERVE_FUNCTION: its keys, its arguments, and the wait once booked. */
export interface SlotBooking {
  keys: [tat: string, window: string, sent: string, answerTime: string, pause: string, retryLine: string];
  args: [intervalUs: number, maxPerSecond: number, windowUs: number, marginUs: number, member: string, holdUs: number];
  /** Waits out the booked slot (`waitMs`, what reserve_slot answered); resolves when the request may be sent. */
  settle(waitMs: number): Promise<Permit>;
  /** The slot will not be used: a wait still under way stops, and an admitted permit is discarded. */
  cancel(): void;
}

export interface RateLimiter {
  /** Waits for a slot; resolves when the request may be sent. */
  acquire(): Promise<Permit>;
  /** A slot to book inside another script, saving the round trip acquire() makes. */
  booking(): SlotBooking;
  penalize(ms: number): Promise<void>;
}

/**
 * `holdMs`: how long a request never released (its worker died, or Plivo did not answer
 * in time) keeps counting: at least the request timeout.
 */
export function createRateLimiter(redis: Redis, key: string, maxPerSecond: number, opts: { holdMs: number }): RateLimiter {
  const intervalUs = Math.ceil(1_000_000 / maxPerSecond);
  const holdUs = Math.ceil(opts.holdMs) * 1000;
  const keys = { sent: `${key}:sent`, answer: `${key}:answer`, pause: `${key}:pause`, retry: `${key}:retry` };
  // The same six keys for every booking (scripts only read them).
  const slotKeys: SlotBooking['keys'] = [key, `${key}:window`, keys.sent, keys.answer, keys.pause, keys.retry];
  let seq = 0;
  const tag = Math.random().toString(36).slice(2, 10);
  let answered: string[] = [];
  let abandoned: string[] = [];
  let discarded: string[] = [];
  let flushing: NodeJS.Timeout | null = null;
  function flush() {
    flushing = null;
    const lists = [answered, abandoned, discarded];
    [answered, abandoned, discarded] = [[], [], []];
    // A lost release only makes its request count until its hold runs out: later sends
    // wait longer, none goes early.
    RELEASE(redis, 2, keys.sent, keys.answer, holdUs, WINDOW_MS * 1000, lists[0]!.length, lists[1]!.length, ...lists.flat()).catch(() => undefined);
  }
  function later(list: string[], member: string) {
    list.push(member);
    flushing ??= setTimeout(flush, RELEASE_BATCH_MS).unref();
  }

  function permit(member: string, waitedMs: number): Permit {
    let open = true;
    return {
      waitedMs,
      release() {
        if (open) later(answered, member);
        open = false;
      },
      discard() {
        if (open) later(discarded, member);
        open = false;
      },
      abandon() {
        if (open) later(abandoned, member);
        open = false;
      },
    };
  }
  function booking(): SlotBooking {
    const member = `${tag}:${seq++}`;
    const booked = performance.now();
    let cancelled = false;
    let admitted: Permit | null = null;
    let wake: (() => void) | null = null;
    const args: SlotBooking['args'] = [intervalUs, maxPerSecond, WINDOW_MS * 1000, WINDOW_MARGIN_MS * 1000, member, holdUs];
    return {
      keys: slotKeys,
      args,
      async settle(waitMs) {
        // No deadline: every place at the guard frees within hold + a window, and the plan
        // spaces requests at the rate the guard admits, so a wait ends; a failed intent would not be better.
        while (waitMs > 0 && !cancelled) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            wake = () => (clearTimeout(timer), resolve());
          });
          if (cancelled) break;
          waitMs = Number(await ADMIT(redis, slotKeys.length, ...slotKeys, ...args));
        }
        admitted = permit(member, performance.now() - booked);
        if (cancelled) admitted.discard();
        return admitted;
      },
      cancel() {
        cancelled = true;
        wake?.();
        admitted?.discard();
      },
    };
  }
  return {
    booking,
    async acquire() {
      const slot = booking();
      return slot.settle(Number(await RESERVE(redis, slot.keys.length, ...slot.keys, ...slot.args)));
    },
    async penalize(ms) {
      await PENALIZE(redis, 2, keys.pause, key, Math.ceil(ms));
    },
  };
}

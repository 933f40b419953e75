import type { Redis } from 'ioredis';
import { LEGS, type Legs } from '../domain/intent.js';
import { CALL_STATES, type CallEffect, type CallState, type CallStateName, type SeenFetch } from '../domain/call.js';
import { APPLY_EFFECT_FUNCTION, effectInputs } from './call-effects.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import { RESERVE_FUNCTION, type Permit, type SlotBooking } from './rate-limiter.js';
import { MARK_RUNNING_FUNCTION } from './intent-store.js';
import { memberScore, QUEUE_TOUCHED_FUNCTION } from './queue-store.js';
import { luaScript } from './redis.js';

/**
 * The per-call gate. An intent may run only when it is the oldest unfinished
 * intent of its call (head of the call's pending list) AND it holds the call's
 * lock. The first gives per-call FIFO across retries and delays; the second
 * guards against a stalled job being re-run while its first run is still alive.
 * When the gate opens on a record it marks the run (status running, one more attempt,
 * updated_at = ARGV[4]) unless the record is finished or a newer intent of the call has
 * taken effect, and then it can book the first transfer's rate slot (KEYS[5..10], ARGV[5..10]):
 * two round trips fewer before Plivo hears of the intent.
 */
const BEGIN = luaScript(`${RESERVE_FUNCTION}
${MARK_RUNNING_FUNCTION}
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head and head ~= ARGV[1] and redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {'blocked', head}
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  local record = redis.call('GET', KEYS[4])
  local wait = -1
  if record then
    local marked = mark_running(KEYS[4], record, tonumber(redis.call('HGET', KEYS[3], 'applied_seq') or '0'), ARGV[4])
    -- Only a run that is to do the work books a slot (not a finished or superseded intent).
    if marked ~= record and KEYS[10] then
      wait = reserve_slot({unpack(KEYS, 5, 10)}, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10]))
    end
    record = marked
  end
  return {'ok', '', record or '', redis.call('HGETALL', KEYS[3]), wait}
end
return {'locked', ''}
`);
/** Deletes a call lock only if this token still holds it (a lapsed lock may belong to another run now). */
const releaseLock = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
const APPLY = luaScript(`${APPLY_EFFECT_FUNCTION}
apply_effect(KEYS, ARGV)
return 1
`);

/**
 * Plivo fetched one of holdq's XML documents for a call: that shows where the call is. The fetch
 * is remembered on the call (kind, queue, when), as evidence for an intent whose run was cut short
 * (see `repair` in process-intent.ts); and a call whose state is `unknown` takes the state the fetch
 * proves. A hold or park document: on hold. A queue's waiting room: queued there (in the place its
 * enqueue booked, or at the back of a queue it did not name). A bridge room: bridged. Only calls
 * holdq tracks are touched (no key is made for a call it never moved).
 * KEYS: call, on-hold set, queue index, queue activity, queue, queue times.
 * ARGV: call uuid, kind (hold|queue|bridge), queue name (or ''), now ms, now ISO, score at the back.
 * Returns 1 when the state changed.
 */
const SEEN = luaScript(`${QUEUE_TOUCHED_FUNCTION}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'seen_kind', ARGV[2], 'seen_queue', ARGV[3], 'seen_at', ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'state', 'queue', 'queue_score', 'held_legs')
if h[1] ~= 'unknown' then return 0 end
if ARGV[2] == 'hold' then
  redis.call('HSET', KEYS[1], 'state', 'on_hold', 'queue', '', 'since', ARGV[5], 'held_legs', h[4] or 'aleg')
  redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[1])
elseif ARGV[2] == 'queue' then
  local score = ARGV[6]
  if h[2] == ARGV[3] and h[3] then score = h[3] end
  redis.call('HSET', KEYS[1], 'state', 'queued', 'queue', ARGV[3], 'since', ARGV[5], 'held_legs', '')
  redis.call('ZADD', KEYS[5], score, ARGV[1])
  redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
  queue_touched(KEYS[3], KEYS[4], ARGV[3], ARGV[4])
else
  redis.call('HSET', KEYS[1], 'state', 'bridged', 'queue', '', 'since', ARGV[5], 'held_legs', '')
end
redis.call('HDEL', KEYS[1], 'queue_score')
return 1
`);

/** What an XML fetch shows of where a call is. */
export type FetchSeen = { kind: 'hold' } | { kind: 'queue'; queue: string } | { kind: 'bridge' };

/**
 * On `ok` the gate also hands back, read in the same script, the intent's record (JSON, as the
 * gate left it: marked running when this run is to do the work) and the call's state, and `slot`: the booked rate slot, waited out (null when none was booked: no record).
 */
export type BeginResult =
  | { kind: 'ok'; recordJson: string | null; call: CallState; slot: Promise<Permit> | null }
  | { kind: 'blocked'; headIntentId: string }
  | { kind: 'locked' };

export interface CallStore {
  get(callUuid: string): Promise<CallState>;
  begin(callUuid: string, intentId: string, token: string, ttlMs: number, slot?: SlotBooking): Promise<BeginResult>;
  release(callUuid: string, token: string): Promise<void>;
  /** Sets a call's state outside its own line of intents (a dequeued caller, a hangup). */
  apply(callUuid: string, effect: CallEffect, from: CallState): Promise<void>;
  /** Plivo told us the B leg's own UUID (it fetched the park XML for `callUuid`). */
  recordBleg(callUuid: string, blegUuid: string): Promise<void>;
  /** Plivo fetched an XML document for the call: remembered, and if holdq did not know where it was, now it does. True when the state changed. */
  seenByPlivo(callUuid: string, seen: FetchSeen): Promise<boolean>;
}

const orNull = (v: string | undefined) => (v ? v : null);

function parseState(callUuid: string, h: Record<string, string>): CallState {
  const state = h.state as CallStateName | undefined;
  const held = h.held_legs as Legs | undefined;
  return {
    call_uuid: callUuid,
    state: state && CALL_STATES.includes(state) ? state : null,
    queue: orNull(h.queue),
    since: orNull(h.since),
    transfer_count: Number(h.transfer_count ?? 0),
    last_intent_id: orNull(h.last_intent_id),
    held_legs: held && LEGS.includes(held) ? held : null,
    bleg_uuid: orNull(h.bleg_uuid),
    applied_seq: Number(h.applied_seq ?? 0),
    tracked: Object.keys(h).length > 0,
    seen: h.seen_kind && h.seen_at ? { kind: h.seen_kind as SeenFetch['kind'], queue: orNull(h.seen_queue), at: Number(h.seen_at) } : null,
  };
}

export function createCallStore(redis: Redis, keys: Keys): CallStore {
  return {
    async get(callUuid) {
      return parseState(callUuid, await redis.hgetall(keys.call(callUuid)));
    },

    async begin(callUuid, intentId, token, ttlMs, slot) {
      const gateKeys = [keys.pending(callUuid), keys.lock(callUuid), keys.call(callUuid), keys.intent(intentId)];
      const [kind, head, recordJson, flat, waitMs] = (await BEGIN(
        redis,
        gateKeys.length + (slot?.keys.length ?? 0),
        ...gateKeys,
        ...(slot?.keys ?? []),
        intentId,
        token,
        ttlMs,
        new Date().toISOString(),
        ...(slot?.args ?? []),
      )) as [string, string, string?, string[]?, number?];
      if (kind === 'ok') {
        const hash: Record<string, string> = {};
        for (let i = 0; i + 1 < (flat?.length ?? 0); i += 2) hash[flat![i]!] = flat![i + 1]!;
        const booked = slot && waitMs !== undefined && waitMs >= 0 ? slot.settle(waitMs) : null;
        // The worker cancels a booked slot its intent never uses (SlotBooking.cancel).
        booked?.catch(() => undefined);
        return { kind: 'ok', recordJson: recordJson || null, call: parseState(callUuid, hash), slot: booked };
      }
      if (kind === 'blocked') return { kind: 'blocked', headIntentId: head };
      return { kind: 'locked' };
    },

    async release(callUuid, token) {
      await releaseLock(redis, 1, keys.lock(callUuid), token);
    },

    async apply(callUuid, effect, from) {
      const inputs = effectInputs(keys, callUuid, effect, { from, now: Date.now() });
      await APPLY(redis, inputs.keys.length, ...inputs.keys, ...inputs.args);
    },

    async seenByPlivo(callUuid, seen) {
      const queue = seen.kind === 'queue' ? seen.queue : '';
      const now = Date.now();
      const changed = await SEEN(
        redis,
        6,
        keys.call(callUuid),
        keys.onHold(),
        keys.queueIndex(),
        keys.queueActivity(),
        keys.queue(queue || '-'),
        keys.queueTimes(queue || '-'),
        callUuid,
        seen.kind,
        queue,
        now,
        new Date(now).toISOString(),
        memberScore(0, now),
      );
      return changed === 1;
    },

    async recordBleg(callUuid, blegUuid) {
      await redis.multi().hset(keys.call(callUuid), 'bleg_uuid', blegUuid).expire(keys.call(callUuid), CALL_TTL_SECONDS).exec();
    },
  };
}

import type { Redis } from 'ioredis';
import { LEGS, type Legs } from '../domain/intent.js';
import { CALL_STATES, type CallEffect, type CallState, type CallStateName, type SeenFetch } from '../domain/call.js';
import { effectInputs } from './call-effects.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import type { Permit, SlotBooking } from './plivo-pacer.js';
import { memberScore } from './queue-store.js';
import { CALL_SEEN, GATE, RELEASE_LOCK, SET_CALL_STATE } from './scripts.js';

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
  /** The gate. `slot`: the first transfer's rate slot, booked in the same script. */
  begin(callUuid: string, intentId: string, token: string, ttlMs: number, slot?: SlotBooking): Promise<BeginResult>;
  release(callUuid: string, token: string): Promise<void>;
  /**
   * Sets a call's state outside its own line of intents (a dequeued caller, a hangup), leaving its
   * queue in the same step; answers how long it had waited there (ms), or null when it left none.
   */
  apply(
    callUuid: string,
    effect: CallEffect,
    from: CallState,
    /** The intent that made the change (a dequeue moving its caller): named in the call's events. */
    opts?: { intentId?: string },
  ): Promise<{ waitedMs: number | null }>;
  /** Plivo told us the B leg's own UUID (it fetched the park XML for `callUuid`). */
  recordBleg(callUuid: string, blegUuid: string): Promise<void>;
  /**
   * Plivo fetched an XML document for the call: remembered (with `fromNumber`, the caller's number to
   * call back, when given), and if holdq did not know where it was, now it does. True when the state changed.
   */
  seenByPlivo(callUuid: string, seen: FetchSeen, fromNumber?: string): Promise<boolean>;
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
    seen:
      h.seen_kind && h.seen_at
        ? { kind: h.seen_kind as SeenFetch['kind'], queue: orNull(h.seen_queue), at: Number(h.seen_at) }
        : null,
  };
}

export function createCallStore(redis: Redis, keys: Keys): CallStore {
  return {
    async get(callUuid) {
      return parseState(callUuid, await redis.hgetall(keys.call(callUuid)));
    },

    async begin(callUuid, intentId, token, ttlMs, slot) {
      // Without a booking (book = 0) the gate never reads the pacer's keys; it is given the call's
      // own key in their place, so every key of the script is in one Redis Cluster slot.
      const unused = keys.call(callUuid);
      const rate = slot?.keys ?? {
        tat: unused,
        plan: unused,
        sent: unused,
        answer: unused,
        pause: unused,
        retry: unused,
        line: unused,
        seen: unused,
        seq: unused,
        fair: unused,
      };
      const reply = await GATE.run(
        redis,
        {
          pending: keys.pending(callUuid),
          lock: keys.lock(callUuid),
          call: keys.call(callUuid),
          intent: keys.intent(intentId),
          rate_tat: rate.tat,
          rate_plan: rate.plan,
          rate_sent: rate.sent,
          rate_answer: rate.answer,
          rate_pause: rate.pause,
          rate_retry: rate.retry,
          rate_line: rate.line,
          rate_seen: rate.seen,
          rate_seq: rate.seq,
          rate_fair: rate.fair,
        },
        {
          id: intentId,
          token,
          lock_ms: ttlMs,
          now_iso: new Date().toISOString(),
          book: slot ? '1' : '0',
          ...(slot?.args ?? {
            interval_us: 0,
            max: 0,
            window_us: 0,
            margin_us: 0,
            member: '-',
            hold_us: 0,
            priority: 0,
            lease_us: 0,
            turn: 0,
          }),
        },
      );
      if (reply.status === 'blocked') return { kind: 'blocked', headIntentId: String(reply.values[0]) };
      if (reply.status === 'locked') return { kind: 'locked' };
      const [recordJson, flat, waitMs] = reply.values as [string, string[], number];
      const hash: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
      const booked = slot && waitMs >= 0 ? slot.settle(waitMs) : null;
      // The worker cancels a booked slot its intent never uses (SlotBooking.cancel).
      booked?.catch(() => undefined);
      return { kind: 'ok', recordJson: recordJson || null, call: parseState(callUuid, hash), slot: booked };
    },

    async release(callUuid, token) {
      await RELEASE_LOCK.run(redis, { lock: keys.lock(callUuid) }, { token });
    },

    async apply(callUuid, effect, from, opts = {}) {
      const now = Date.now();
      const inputs = effectInputs(keys, callUuid, effect, {
        from,
        now,
        ...(opts.intentId ? { intentId: opts.intentId } : {}),
      });
      const reply = await SET_CALL_STATE.run(redis, inputs.keys, {
        ...inputs.args,
        now_ms: now,
        call_ttl: CALL_TTL_SECONDS,
      });
      const waited = reply.values[0];
      return { waitedMs: typeof waited === 'number' ? waited : null };
    },

    async seenByPlivo(callUuid, seen, fromNumber = '') {
      const queue = seen.kind === 'queue' ? seen.queue : '';
      const now = Date.now();
      const reply = await CALL_SEEN.run(
        redis,
        {
          call: keys.call(callUuid),
          on_hold: keys.onHold(),
          queue_index: keys.queueIndex(),
          queue_activity: keys.queueActivity(),
          queue: keys.queue(queue || '-'),
          queue_times: keys.queueTimes(queue || '-'),
          stats: keys.queueStats(queue || '-'),
          events: keys.events(),
        },
        {
          call_uuid: callUuid,
          kind: seen.kind,
          queue_name: queue,
          now_ms: now,
          now_iso: new Date(now).toISOString(),
          back_score: memberScore(0, now),
          events_max: keys.eventsMax,
          from_number: fromNumber,
        },
      );
      return reply.status === 'changed';
    },

    async recordBleg(callUuid, blegUuid) {
      await redis
        .multi()
        .hset(keys.call(callUuid), 'bleg_uuid', blegUuid)
        .expire(keys.call(callUuid), CALL_TTL_SECONDS)
        .exec();
    },
  };
}

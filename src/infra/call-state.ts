import type { Redis } from 'ioredis';
import { LEGS, type Legs } from '../domain/intent.js';
import { CALL_STATES, type CallEffect, type CallState, type CallStateName } from '../domain/transfers.js';
import { applyEffect, RELEASE_LOCK } from './call-effects.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import { luaScript } from './redis.js';

/**
 * The per-call gate. An intent may run only when it is the oldest unfinished
 * intent of its call (head of the call's pending list) AND it holds the call's
 * lock. The first gives per-call FIFO across retries and delays; the second
 * guards against a stalled job being re-run while its first run is still alive.
 */
const BEGIN = luaScript(`
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head and head ~= ARGV[1] and redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {'blocked', head}
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return {'ok', '', redis.call('GET', KEYS[4]) or '', redis.call('HGETALL', KEYS[3])}
end
return {'locked', ''}
`);
const releaseLock = luaScript(RELEASE_LOCK);

/** On `ok` the gate also hands back, read in the same script, the intent's record (JSON) and the call's state. */
export type BeginResult = { kind: 'ok'; recordJson: string | null; call: CallState } | { kind: 'blocked'; headIntentId: string } | { kind: 'locked' };

export interface CallStore {
  get(callUuid: string): Promise<CallState>;
  begin(callUuid: string, intentId: string, token: string, ttlMs: number): Promise<BeginResult>;
  release(callUuid: string, token: string): Promise<void>;
  /** Sets a call's state outside its own line of intents (a dequeued caller, a hangup). */
  apply(callUuid: string, effect: CallEffect, from: CallState): Promise<void>;
  /** Plivo told us the B leg's own UUID (it fetched the park XML for `callUuid`). */
  recordBleg(callUuid: string, blegUuid: string): Promise<void>;
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
  };
}

export function createCallStore(redis: Redis, keys: Keys): CallStore {
  return {
    async get(callUuid) {
      return parseState(callUuid, await redis.hgetall(keys.call(callUuid)));
    },

    async begin(callUuid, intentId, token, ttlMs) {
      const [kind, head, recordJson, flat] = (await BEGIN(
        redis,
        4,
        keys.pending(callUuid),
        keys.lock(callUuid),
        keys.call(callUuid),
        keys.intent(intentId),
        intentId,
        token,
        ttlMs,
      )) as [string, string, string?, string[]?];
      if (kind === 'ok') {
        const hash: Record<string, string> = {};
        for (let i = 0; i + 1 < (flat?.length ?? 0); i += 2) hash[flat![i]!] = flat![i + 1]!;
        return { kind: 'ok', recordJson: recordJson || null, call: parseState(callUuid, hash) };
      }
      if (kind === 'blocked') return { kind: 'blocked', headIntentId: head };
      return { kind: 'locked' };
    },

    async release(callUuid, token) {
      await releaseLock(redis, 1, keys.lock(callUuid), token);
    },

    async apply(callUuid, effect, from) {
      const tx = redis.multi();
      applyEffect(tx, keys, callUuid, effect, { from, now: Date.now() });
      await tx.exec();
    },

    async recordBleg(callUuid, blegUuid) {
      await redis.multi().hset(keys.call(callUuid), 'bleg_uuid', blegUuid).expire(keys.call(callUuid), CALL_TTL_SECONDS).exec();
    },
  };
}

import type { ChainableCommander } from 'ioredis';
import type { CallEffect, CallState } from '../domain/transfers.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import { memberScore } from './queue-store.js';

/** Deletes a call lock only if this token still holds it (a lapsed lock may belong to another run now). */
export const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Queues a call's state change on a MULTI, so it lands atomically with the
 * intent that caused it: the call hash, its queue membership and the on-hold set.
 */
export function applyEffect(
  tx: ChainableCommander,
  keys: Keys,
  callUuid: string,
  effect: CallEffect,
  opts: { from?: CallState | undefined; seq?: number; intentId?: string; now: number },
): void {
  const at = new Date(opts.now).toISOString();
  tx.hset(keys.call(callUuid), {
    state: effect.state,
    queue: effect.queue ?? '',
    held_legs: effect.held_legs ?? '',
    since: at,
    ...(opts.seq !== undefined ? { applied_seq: opts.seq } : {}),
    ...(opts.intentId ? { last_intent_id: opts.intentId } : {}),
  });
  tx.expire(keys.call(callUuid), CALL_TTL_SECONDS);
  const oldQueue = opts.from?.queue;
  if (oldQueue && oldQueue !== effect.queue) tx.zrem(keys.queue(oldQueue), callUuid).zrem(keys.queueTimes(oldQueue), callUuid);
  if (effect.state === 'queued' && effect.queue) {
    tx.zadd(keys.queue(effect.queue), memberScore(effect.priority ?? 0, opts.now), callUuid);
    tx.zadd(keys.queueTimes(effect.queue), opts.now, callUuid);
    tx.sadd(keys.queues(), effect.queue);
  }
  if (effect.state === 'on_hold') tx.zadd(keys.onHold(), 'NX', opts.now, callUuid);
  else tx.zrem(keys.onHold(), callUuid);
}

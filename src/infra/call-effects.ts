import type { CallEffect, CallState } from '../domain/call.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import { memberScore, QUEUE_TOUCHED_FUNCTION } from './queue-store.js';

/**
 * A call's state change, as a Lua function for the scripts that land it atomically with
 * whatever caused it (an intent's finish, a dequeued caller, a hangup): the call hash,
 * its queue membership and the on-hold set. One script instead of a MULTI of up to ten
 * commands: the worker spent a tenth of its CPU building and parsing those.
 *
 * k: call, on-hold set, queue index, queue activity, old queue, old queue times, new queue, new queue times
 * a: call uuid, state, queue, held legs, since, now ms, queue score, old queue name,
 *    applied seq (or ''), intent id (or ''), ttl
 */
export const APPLY_EFFECT_FUNCTION = `${QUEUE_TOUCHED_FUNCTION}
local function apply_effect(k, a)
  -- A call that hung up stays ended: an intent whose transfer Plivo accepted just before the hangup
  -- finishes after it, and must not put a caller who is gone back in a queue or on hold.
  if a[2] ~= 'ended' and redis.call('HGET', k[1], 'state') == 'ended' then
    a = {a[1], 'ended', '', '', a[5], a[6], a[7], a[8], a[9], a[10], a[11]}
  end
  local fields = {'state', a[2], 'queue', a[3], 'held_legs', a[4], 'since', a[5]}
  if a[9] ~= '' then fields[#fields + 1] = 'applied_seq'; fields[#fields + 1] = a[9] end
  if a[10] ~= '' then fields[#fields + 1] = 'last_intent_id'; fields[#fields + 1] = a[10] end
  redis.call('HSET', k[1], unpack(fields))
  redis.call('EXPIRE', k[1], a[11])
  if a[8] ~= '' and a[8] ~= a[3] then
    if redis.call('ZREM', k[5], a[1]) == 1 then queue_touched(k[3], k[4], a[8], a[6]) end
    redis.call('ZREM', k[6], a[1])
  end
  if a[2] == 'queued' and a[3] ~= '' then
    redis.call('ZADD', k[7], a[7], a[1])
    redis.call('ZADD', k[8], a[6], a[1])
    queue_touched(k[3], k[4], a[3], a[6])
  end
  -- An unknown outcome keeps the place the caller would have had, for the waiting room's fetch to confirm.
  if a[2] == 'unknown' and a[3] ~= '' then redis.call('HSET', k[1], 'queue_score', a[7]) end
  if a[2] == 'on_hold' then redis.call('ZADD', k[2], 'NX', a[6], a[1]) else redis.call('ZREM', k[2], a[1]) end
end
`;

/** The eight keys and eleven arguments apply_effect takes, for `effect` on `callUuid`. */
export function effectInputs(
  keys: Keys,
  callUuid: string,
  effect: CallEffect,
  opts: { from?: CallState | undefined; seq?: number; intentId?: string; now: number },
): { keys: string[]; args: string[] } {
  const oldQueue = opts.from?.queue ?? '';
  const queue = effect.queue ?? '';
  return {
    keys: [
      keys.call(callUuid),
      keys.onHold(),
      keys.queueIndex(),
      keys.queueActivity(),
      keys.queue(oldQueue || '-'),
      keys.queueTimes(oldQueue || '-'),
      keys.queue(queue || '-'),
      keys.queueTimes(queue || '-'),
    ],
    args: [
      callUuid,
      effect.state,
      queue,
      effect.held_legs ?? '',
      new Date(opts.now).toISOString(),
      String(opts.now),
      String(memberScore(effect.priority ?? 0, opts.now)),
      oldQueue,
      opts.seq === undefined ? '' : String(opts.seq),
      opts.intentId ?? '',
      String(CALL_TTL_SECONDS),
    ],
  };
}

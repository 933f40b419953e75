import type { CallEffect, CallState } from '../domain/call.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import { memberScore } from './queue-store.js';

/**
 * The inputs of a call's state change (lua/includes/apply-effect.lua), for the scripts that land
 * it atomically with whatever caused it: an intent's finish, a dequeued caller, a hangup.
 */
export interface EffectKeys {
  call: string;
  on_hold: string;
  queue_index: string;
  queue_activity: string;
  old_queue: string;
  old_queue_times: string;
  new_queue: string;
  new_queue_times: string;
  events: string;
  old_queue_stats: string;
  old_queue_outcomes: string;
  new_queue_stats: string;
}

export interface EffectArgs {
  call_uuid: string;
  state: string;
  queue: string;
  held_legs: string;
  since: string;
  queue_score: number;
  old_queue_name: string;
  applied_seq: string;
  intent_id: string;
  events_max: number;
  leave_reason: string;
}

/** What apply_effect takes for `effect` on `callUuid`; `from` is the state it changes (its old queue). */
export function effectInputs(
  keys: Keys,
  callUuid: string,
  effect: CallEffect,
  opts: {
    from?: Pick<CallState, 'queue'> | undefined;
    seq?: number;
    intentId?: string;
    now: number;
    leaveReason?: string;
  },
): { keys: EffectKeys; args: EffectArgs } {
  const oldQueue = opts.from?.queue ?? '';
  const queue = effect.queue ?? '';
  return {
    keys: {
      call: keys.call(callUuid),
      on_hold: keys.onHold(),
      queue_index: keys.queueIndex(),
      queue_activity: keys.queueActivity(),
      old_queue: keys.queue(oldQueue || '-'),
      old_queue_times: keys.queueTimes(oldQueue || '-'),
      new_queue: keys.queue(queue || '-'),
      new_queue_times: keys.queueTimes(queue || '-'),
      events: keys.events(),
      old_queue_stats: keys.queueStats(oldQueue || '-'),
      old_queue_outcomes: keys.queueOutcomes(oldQueue || '-'),
      new_queue_stats: keys.queueStats(queue || '-'),
    },
    args: {
      call_uuid: callUuid,
      state: effect.state,
      queue,
      held_legs: effect.held_legs ?? '',
      since: new Date(opts.now).toISOString(),
      queue_score: memberScore(effect.priority ?? 0, opts.now),
      old_queue_name: oldQueue,
      applied_seq: opts.seq === undefined ? '' : String(opts.seq),
      intent_id: opts.intentId ?? '',
      events_max: keys.eventsMax,
      leave_reason: opts.leaveReason ?? '',
    },
  };
}

export { CALL_TTL_SECONDS };

import type { Redis } from 'ioredis';
import { effectInputs } from './call-effects.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import type { TakenMember } from './queue-store.js';
import { CALLBACK_ANSWERED, CALLBACK_DIAL, CALLBACK_REQUEST, CALLBACK_UNANSWERED } from './scripts.js';

/**
 * Call-me-back in Redis (SPEC §10; lua/callback-*.lua, includes/callbacks.lua). A callback member
 * keeps its place in its queue; these move it: the request, the dequeue's attempt, and the
 * attempt's outcome, whichever process learns it (the API serves Plivo's answer and hangup URLs,
 * the worker gives up on an attempt that rang out with no word from Plivo).
 */
export interface CallbackStore {
  /** A waiting caller becomes a callback member; `number` null: the From Plivo reported (CallStore.seenByPlivo keeps it). */
  request(
    queue: string,
    callUuid: string,
    number: string | null,
    intentId?: string,
  ): Promise<{ kind: 'ok'; number: string } | { kind: 'not_waiting' } | { kind: 'no_number' }>;
  /** A dequeue's attempt on a member it took: dial it, or (fired) wait for the outcome of the call an earlier run placed. */
  dial(
    queue: string,
    member: TakenMember,
    intentId: string,
    agent: string,
  ): Promise<{ kind: 'dial'; attempt: number; number: string; fired: boolean; fresh: boolean } | { kind: 'absent' }>;
  /** The attempt's Make Call was accepted by Plivo: a re-run must not place it again. */
  fired(callUuid: string): Promise<void>;
  /** The customer answered `attempt`: connected (bridge into the agent's room), or not this attempt. */
  answered(queue: string, callUuid: string, attempt: number, legUuid: string): Promise<{ agent: string } | null>;
  /** `attempt` went unanswered: back in its place to be retried, or gone (callback.failed); null when already settled. */
  unanswered(
    queue: string,
    callUuid: string,
    attempt: number,
    reason: string,
    opts: { retryMs: number; maxAttempts: number },
  ): Promise<'retry' | 'failed' | null>;
  /** The number a callback member is to be called at, while it is one. */
  number(callUuid: string): Promise<string | null>;
  /** The attempt a dequeue started on a member, as Redis has it now (dialing, connected, waiting, failed). */
  state(callUuid: string): Promise<{ state: string | null; attempt: number; intent: string | null }>;
}

export function createCallbackStore(redis: Redis, keys: Keys): CallbackStore {
  const effect = (queue: string, callUuid: string, state: 'bridged' | 'ended', leaveReason: string) => {
    const now = Date.now();
    const inputs = effectInputs(
      keys,
      callUuid,
      { state, queue: null, held_legs: null },
      {
        from: { queue },
        now,
        leaveReason,
      },
    );
    return {
      keys: { ...inputs.keys, callbacks: keys.queueCallbacks(queue) },
      args: { ...inputs.args, now_ms: now, call_ttl: CALL_TTL_SECONDS },
    };
  };
  return {
    async request(queue, callUuid, number, intentId) {
      const reply = await CALLBACK_REQUEST.run(
        redis,
        {
          call: keys.call(callUuid),
          queue: keys.queue(queue),
          callbacks: keys.queueCallbacks(queue),
          events: keys.events(),
        },
        {
          call_uuid: callUuid,
          queue_name: queue,
          number: number ?? '',
          intent_id: intentId ?? '',
          events_max: keys.eventsMax,
        },
      );
      if (reply.status === 'ok') return { kind: 'ok', number: String(reply.values[0]) };
      return reply.status === 'not_waiting' ? { kind: 'not_waiting' } : { kind: 'no_number' };
    },
    async dial(queue, member, intentId, agent) {
      const reply = await CALLBACK_DIAL.run(
        redis,
        { call: keys.call(member.call_uuid), events: keys.events() },
        {
          call_uuid: member.call_uuid,
          queue_name: queue,
          intent_id: intentId,
          agent,
          score: member.score,
          joined_ms: member.enqueued_at,
          events_max: keys.eventsMax,
        },
      );
      if (reply.status !== 'ok') return { kind: 'absent' };
      const [attempt, number, fired, fresh] = reply.values as [number, string, number, number];
      return {
        kind: 'dial',
        attempt: Number(attempt),
        number: String(number),
        fired: Number(fired) === 1,
        fresh: Number(fresh) === 1,
      };
    },
    async fired(callUuid) {
      await redis.hset(keys.call(callUuid), 'cb_fired', 1);
    },
    async answered(queue, callUuid, attempt, legUuid) {
      const { keys: k, args } = effect(queue, callUuid, 'bridged', '');
      const reply = await CALLBACK_ANSWERED.run(redis, k, { ...args, attempt: String(attempt), leg_uuid: legUuid });
      return reply.status === 'ok' ? { agent: String(reply.values[0]) } : null;
    },
    async unanswered(queue, callUuid, attempt, reason, opts) {
      const { keys: k, args } = effect(queue, callUuid, 'ended', 'callback');
      const reply = await CALLBACK_UNANSWERED.run(redis, k, {
        ...args,
        attempt: String(attempt),
        reason,
        retry_ms: opts.retryMs,
        max_attempts: opts.maxAttempts,
      });
      return reply.status === 'ok' ? (reply.values[0] as 'retry' | 'failed') : null;
    },
    number: (callUuid) => redis.hget(keys.call(callUuid), 'cb_number'),
    async state(callUuid) {
      const [state, attempt, intent] = await redis.hmget(keys.call(callUuid), 'cb_state', 'cb_attempt', 'cb_intent');
      return { state: state ?? null, attempt: Number(attempt ?? 0), intent: intent ?? null };
    },
  };
}

import type { IntentInput, Legs } from './intent.js';

/** The call model: what holdq knows of a call, and the changes intents make to it. Pure. */

/**
 * `unknown`: an intent's run was cut short after it may have reached Plivo (its worker was lost,
 * or it failed where holdq could not see the answer), so holdq does not know where the call is.
 * Plivo's next fetch of one of holdq's XML documents for the call tells it (see confirmFromFetch).
 */
/**
 * `callback`: the caller left the line and keeps its place in `queue` to be called back (SPEC §10).
 */
export const CALL_STATES = ['on_hold', 'queued', 'callback', 'bridged', 'transferred', 'ended', 'unknown'] as const;
export type CallStateName = (typeof CALL_STATES)[number];

/** What holdq knows about a call; the worker reads it to plan, and writes the effect when Plivo accepts. */
export interface CallState {
  call_uuid: string;
  state: CallStateName | null;
  queue: string | null;
  since: string | null;
  transfer_count: number;
  last_intent_id: string | null;
  /** Legs moved by the hold now in force, so unhold knows what to bring back. */
  held_legs: Legs | null;
  /** The B leg's own UUID, learnt when Plivo fetches the park XML for it. */
  bleg_uuid: string | null;
  /** Sequence number of the newest intent that took effect on this call. */
  applied_seq: number;
  /** The last of holdq's XML documents Plivo fetched for this call, and when (ms). */
  seen?: SeenFetch | null;
  /** holdq has a record of this call (an intent for it was accepted), whatever its state. */
  tracked?: boolean;
}

/** What one of Plivo's fetches showed: the call runs a hold (or park) document, a queue's waiting room, or a bridge room. */
export interface SeenFetch {
  kind: 'hold' | 'queue' | 'bridge';
  queue: string | null;
  at: number;
}

/** The call-state change an intent makes once all its transfers are accepted. */
export interface CallEffect {
  state: CallStateName;
  queue: string | null;
  held_legs: Legs | null;
  /** For a call joining a queue: its priority there. */
  priority?: number;
}

/**
 * What holdq records when an intent's run was cut short and Plivo may or may not have carried out
 * its transfers: the call is `unknown`, keeping what the intent would have done (the legs a hold
 * moves, the queue an enqueue joins and its place there), so that an unhold still works and the
 * caller's place is ready when Plivo's fetch of the waiting room shows it is there. A dequeue
 * gives its caller back instead (the agent's call is left as it was), so it has no such effect.
 */
export function uncertainEffect(intent: IntentInput, call: CallState): CallEffect | null {
  switch (intent.type) {
    case 'hold':
      return { state: 'unknown', queue: null, held_legs: intent.legs };
    case 'unhold':
      return { state: 'unknown', queue: null, held_legs: call.held_legs };
    case 'enqueue':
      return { state: 'unknown', queue: intent.queue, held_legs: null, priority: intent.priority };
    case 'transfer':
      return { state: 'unknown', queue: null, held_legs: null };
    case 'callback':
    case 'dequeue':
      return null;
  }
}

/**
 * The effect an intent whose run was cut short is shown to have had by a fetch Plivo made after
 * it was accepted: Plivo fetched the document its transfer pointed at, so the transfer took place.
 * Null when no such fetch was seen (or for a raw transfer, whose documents are not holdq's).
 */
export function provenEffect(intent: IntentInput, call: CallState, sinceMs: number): CallEffect | null {
  const seen = call.seen;
  if (!seen || seen.at < sinceMs) return null;
  switch (intent.type) {
    case 'hold':
      return seen.kind === 'hold' ? { state: 'on_hold', queue: null, held_legs: intent.legs } : null;
    case 'unhold':
      return seen.kind === 'bridge' ? { state: 'bridged', queue: null, held_legs: null } : null;
    case 'enqueue':
      return seen.kind === 'queue' && seen.queue === intent.queue
        ? { state: 'queued', queue: intent.queue, held_legs: null, priority: intent.priority }
        : null;
    default:
      return null;
  }
}

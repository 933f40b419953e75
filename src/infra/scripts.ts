import type { JobInsert } from './job-insert.js';
import { defineScript } from './redis-script.js';

/**
 * Every Redis script of holdq, one typed wrapper each (lua/<name>.lua; docs/architecture.md lists
 * them). The names repeat each header's, for TypeScript: the loader checks they agree.
 */

/**
 * What every accept of one account shares: keys and settings written into the script itself
 * (redis-script.ts, FixedInputs), so each call sends only what is its own.
 */
export interface AcceptConstants {
  unfinished: string;
  queue_index: string;
  queue_activity: string;
  events: string;
  idempotency_ttl: number;
  call_ttl: number;
  band: number;
  events_max: number;
}

/**
 * lua/accept.lua: one wrapper per intent queue (its insert of BullMQ's job names that queue, its
 * keys and the account's constant keys and settings fixed in the script).
 */
export function acceptScript(jobs: JobInsert, constants: AcceptConstants) {
  const { unfinished, queue_index, queue_activity, events, ...args } = constants;
  return defineScript(
    'accept',
    {
      keys: [
        'intent',
        'idempotency',
        'call',
        'pending',
        'unfinished',
        'queue',
        'client_rate',
        'claim_queue',
        'claim_queue_times',
        'queue_index',
        'queue_activity',
        'fair',
        'fair_open',
        'events',
        'claim_queue_stats',
        'claim_queue_outcomes',
        'job...',
      ],
      args: [
        'id',
        'record',
        'body_hash',
        'idempotency_ttl',
        'has_key',
        'call_ttl',
        'now_ms',
        'budget',
        'queue_name',
        'queue_max',
        'rate_limit',
        'job_data',
        'claim_call',
        'claim_queue_name',
        'call_uuid',
        'client',
        'class_index',
        'band',
        'events_max',
        'intent_type',
        'intent_queue',
      ],
      returns: ['created', 'replayed', 'budget_spent', 'queue_full', 'rate_limited', 'not_waiting'],
    },
    () => ({ ...jobs.inserts }),
    { keys: { unfinished, queue_index, queue_activity, events, job: jobs.keys }, args },
  );
}

const EFFECT_KEYS = [
  'call',
  'on_hold',
  'queue_index',
  'queue_activity',
  'old_queue',
  'old_queue_times',
  'new_queue',
  'new_queue_times',
  'events',
  'old_queue_stats',
  'old_queue_outcomes',
  'new_queue_stats',
] as const;

/** apply-effect's e (lua/includes/apply-effect.lua), as the scripts that call it name their ARGV. */
const EFFECT_ARGS = [
  'call_uuid',
  'state',
  'queue',
  'held_legs',
  'since',
  'now_ms',
  'queue_score',
  'old_queue_name',
  'applied_seq',
  'intent_id',
  'call_ttl',
  'events_max',
  'leave_reason',
] as const;

/** lua/finish.lua */
export const FINISH = defineScript('finish', {
  keys: ['intent', 'pending', 'unfinished', 'dead', 'lock', 'fair', 'fair_open', ...EFFECT_KEYS, 'counted...'],
  args: [
    'id',
    'record',
    'retention',
    'failed',
    'now_ms',
    'lock_token',
    'call_ttl',
    'effect',
    'call_uuid',
    'state',
    'queue',
    'held_legs',
    'since',
    'queue_score',
    'old_queue_name',
    'applied_seq',
    'intent_id',
    'events_max',
    'leave_reason',
    'event',
    'intent_type',
    'intent_queue',
    'error',
  ],
  returns: ['ok'],
});

/** lua/gate.lua: the per-call gate, which also marks the run and books its first rate slot. */
export const GATE = defineScript('gate', {
  keys: [
    'pending',
    'lock',
    'call',
    'intent',
    'rate_tat',
    'rate_plan',
    'rate_sent',
    'rate_answer',
    'rate_pause',
    'rate_retry',
    'rate_line',
    'rate_seen',
    'rate_seq',
    'rate_fair',
  ],
  args: [
    'id',
    'token',
    'lock_ms',
    'now_iso',
    'book',
    'interval_us',
    'max',
    'window_us',
    'margin_us',
    'member',
    'hold_us',
    'priority',
    'lease_us',
    'turn',
  ],
  returns: ['ok', 'blocked', 'locked'],
});

/** lua/release-lock.lua */
export const RELEASE_LOCK = defineScript('release-lock', {
  keys: ['lock'],
  args: ['token'],
  returns: ['removed', 'absent'],
});

/** lua/save-transfer.lua: a record saved after a transfer, and the transfer counted once. */
export const SAVE_TRANSFER = defineScript('save-transfer', {
  keys: ['intent', 'call'],
  args: ['record', 'call_ttl'],
  returns: ['ok', 'unchanged'],
});

/** lua/set-call-state.lua */
export const SET_CALL_STATE = defineScript('set-call-state', {
  once: true,
  keys: EFFECT_KEYS,
  args: EFFECT_ARGS,
  returns: ['ok'],
});

/** lua/call-seen.lua: a Plivo fetch remembered, and an unknown state settled by it. */
export const CALL_SEEN = defineScript('call-seen', {
  keys: ['call', 'on_hold', 'queue_index', 'queue_activity', 'queue', 'queue_times', 'stats', 'events'],
  args: ['call_uuid', 'kind', 'queue_name', 'now_ms', 'now_iso', 'back_score', 'events_max', 'from_number'],
  returns: ['changed', 'unchanged'],
});

const MEMBER_KEYS = ['queue', 'queue_times', 'queue_index', 'queue_activity', 'stats', 'events'] as const;

/** lua/callback-request.lua: a waiting caller becomes a callback member (SPEC §10). */
export const CALLBACK_REQUEST = defineScript('callback-request', {
  once: true,
  keys: ['call', 'queue', 'callbacks', 'events'],
  args: ['call_uuid', 'queue_name', 'number', 'intent_id', 'events_max'],
  returns: ['ok', 'not_waiting', 'absent'],
});

/** lua/callback-dial.lua: a dequeue's call-back attempt marked dialing. */
export const CALLBACK_DIAL = defineScript('callback-dial', {
  once: true,
  keys: ['call', 'events'],
  args: ['call_uuid', 'queue_name', 'intent_id', 'agent', 'score', 'joined_ms', 'events_max'],
  returns: ['ok', 'absent'],
});

/** lua/callback-answered.lua: the customer picked up a call-back. */
export const CALLBACK_ANSWERED = defineScript('callback-answered', {
  once: true,
  keys: [...EFFECT_KEYS, 'callbacks'],
  args: [...EFFECT_ARGS, 'attempt', 'leg_uuid'],
  returns: ['ok', 'absent'],
});

/** lua/callback-unanswered.lua: a call-back attempt went unanswered. */
export const CALLBACK_UNANSWERED = defineScript('callback-unanswered', {
  once: true,
  keys: [...EFFECT_KEYS, 'callbacks'],
  args: [...EFFECT_ARGS, 'attempt', 'reason', 'retry_ms', 'max_attempts'],
  returns: ['ok', 'absent'],
});

/** lua/queue-take.lua */
export const QUEUE_TAKE = defineScript('queue-take', {
  once: true,
  keys: [...MEMBER_KEYS, 'callbacks'],
  args: ['call_uuid', 'queue_name', 'now_ms', 'events_max'],
  returns: ['taken', 'empty'],
});

/** lua/queue-put-back.lua */
export const QUEUE_PUT_BACK = defineScript('queue-put-back', {
  once: true,
  keys: MEMBER_KEYS,
  args: ['call_uuid', 'queue_name', 'now_ms', 'events_max', 'score', 'joined_ms'],
  returns: ['ok'],
});

/** lua/queue-stats.lua: a queue's estimated waits and how its callers left (reads only). */
export const QUEUE_STATS = defineScript('queue-stats', {
  keys: ['queue', 'stats', 'outcomes'],
  args: ['now_ms', 'limit', 'join_score', 'since_ms', 'threshold_ms', 'member'],
  returns: ['ok'],
});

/** lua/queue-forget-idle.lua */
export const QUEUE_FORGET_IDLE = defineScript('queue-forget-idle', {
  keys: ['queue_index', 'queue_activity'],
  args: ['before_ms', 'batch', 'queue_prefix', 'now_ms', 'configured...'],
  returns: ['ok'],
});

/** lua/queue-depths.lua */
export const QUEUE_DEPTHS = defineScript('queue-depths', {
  keys: ['queue_index'],
  args: ['queue_prefix'],
  returns: ['ok'],
});

/** lua/queue-migrate.lua */
export const QUEUE_MIGRATE = defineScript('queue-migrate', {
  keys: ['legacy', 'queue_index', 'queue_activity'],
  args: ['now_ms'],
  returns: ['ok'],
});

/** lua/rate-slot.lua: joins the pacer's line (op reserve), or asks again for its turn or the guard (op ask). */
export const RATE_SLOT = defineScript('rate-slot', {
  keys: ['tat', 'plan', 'sent', 'answer', 'pause', 'retry', 'line', 'seen', 'seq', 'fair'],
  args: ['op', 'interval_us', 'max', 'window_us', 'margin_us', 'member', 'hold_us', 'priority', 'lease_us', 'turn'],
  returns: ['due', 'wait'],
});

/** lua/rate-release.lua: answered, abandoned and discarded requests, in one batch. */
export const RATE_RELEASE = defineScript('rate-release', {
  keys: ['sent', 'answer', 'line', 'seen'],
  args: ['hold_us', 'grace_us', 'answered', 'abandoned', 'members...'],
  returns: ['ok'],
});

/** lua/rate-penalize.lua: the pause after a 429. */
export const RATE_PENALIZE = defineScript('rate-penalize', { keys: ['pause', 'tat'], args: ['ms'], returns: ['ok'] });

/** lua/lease.lua: the reconciler's lease, held by one worker at a time. */
export const LEASE = defineScript('lease', {
  keys: ['lease'],
  args: ['token', 'ttl_ms'],
  returns: ['renewed', 'acquired', 'held'],
});

/** Every script with a fixed wrapper (accept's depends on its queue), for the tests that check each against its file. */
export const FIXED_SCRIPTS = [
  FINISH,
  GATE,
  RELEASE_LOCK,
  SAVE_TRANSFER,
  SET_CALL_STATE,
  CALL_SEEN,
  QUEUE_TAKE,
  CALLBACK_REQUEST,
  CALLBACK_DIAL,
  CALLBACK_ANSWERED,
  CALLBACK_UNANSWERED,
  QUEUE_PUT_BACK,
  QUEUE_STATS,
  QUEUE_FORGET_IDLE,
  QUEUE_DEPTHS,
  QUEUE_MIGRATE,
  RATE_SLOT,
  RATE_RELEASE,
  RATE_PENALIZE,
  LEASE,
] as const;

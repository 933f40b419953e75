--[[
  A call-back attempt went unanswered (Plivo's hangup URL said busy, no-answer or failed, or the
  dequeue waited past the ring time). When it is the attempt being dialled, the member goes back
  to its place, not to be offered again for retry_ms; after max_attempts it leaves its queue with
  callback.failed (as `ended`, reason callback) and the number is forgotten.

  Once: run twice for one call (ioredis resending it after a lost reply), it answers the first
  run's reply and changes nothing more (redis-script.ts).

  KEYS:
    call              the member's hash (apply-effect's k, as named there)
    on_hold
    queue_index
    queue_activity
    old_queue         the member's queue
    old_queue_times
    new_queue
    new_queue_times
    events            the event stream
    old_queue_stats
    old_queue_outcomes
    new_queue_stats
    callbacks         the queue's callback members

  ARGV:
    call_uuid         the member (apply-effect's e, as named there: the change if it leaves)
    state
    queue
    held_legs
    since
    now_ms
    queue_score
    old_queue_name
    applied_seq
    intent_id
    call_ttl
    events_max
    leave_reason
    attempt           the attempt that went unanswered
    reason            why (busy, no-answer, failed, timeout, …)
    retry_ms          how long before it is offered again
    max_attempts      attempts before it leaves (CALLBACK_ATTEMPTS)

  Returns:
    {'ok', outcome}   retry: back in its place; failed: it left its queue (callback.failed)
    {'absent'}        not the attempt being dialled (already settled)
]]
--- @include "apply-effect"
--- @include "callbacks"

local h = redis.call('HMGET', KEY.call, 'state', 'cb_state', 'cb_attempt', 'cb_number', 'cb_score', 'cb_joined',
  'cb_intent')
if h[1] ~= 'callback' or h[2] ~= 'dialing' or h[3] ~= ARG.attempt then return {'absent'} end
local now_ms = tonumber(ARG.now_ms)
local name = ARG.old_queue_name
if tonumber(ARG.attempt) >= tonumber(ARG.max_attempts) then
  callback_event(KEY.events, ARG.events_max, 'callback.failed', ARG.call_uuid, name, ARG.attempt, h[4],
    {reason = ARG.reason, intent_id = h[7]})
  apply_effect(KEY, ARG)
  redis.call('HDEL', KEY.call, 'cb_number', 'from_number', 'cb_agent', 'cb_fired')
  redis.call('HSET', KEY.call, 'cb_state', 'failed')
  redis.call('ZREM', KEY.callbacks, ARG.call_uuid)
  return {'ok', 'failed'}
end
redis.call('ZADD', KEY.old_queue, h[5], ARG.call_uuid)
redis.call('ZADD', KEY.old_queue_times, h[6], ARG.call_uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, name, ARG.now_ms)
if redis.call('ZCARD', KEY.old_queue) == 1 then redis.call('HSET', KEY.old_queue_stats, 'busy_since', ARG.now_ms) end
redis.call('ZADD', KEY.callbacks, now_ms + tonumber(ARG.retry_ms), ARG.call_uuid)
-- cb_intent stays: the dequeue that tried knows its attempt is settled (callback-dial.lua).
redis.call('HSET', KEY.call, 'cb_state', 'waiting')
redis.call('HDEL', KEY.call, 'cb_agent', 'cb_fired')
announce_positions({queue = KEY.old_queue, queue_times = KEY.old_queue_times, stats = KEY.old_queue_stats,
  events = KEY.events, events_max = ARG.events_max, name = name}, redis.call('ZRANK', KEY.old_queue, ARG.call_uuid), now_ms)
return {'ok', 'retry'}

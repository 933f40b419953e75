--[[
  Plivo fetched a call-back's answer URL: the customer picked up (xml-routes.ts). When the
  attempt is the one being dialled, the member leaves its queue bridged (it is served), the
  agent's room is its room, and the number is forgotten; a late answer to an attempt holdq has
  moved on from is told so.

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
    call_uuid         the member (apply-effect's e, as named there)
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
    attempt           the attempt the answer URL names
    leg_uuid          the new call's own UUID

  Returns:
    {'ok', agent}     connected: bridge the customer into the agent's room
    {'absent'}        not this attempt (or no callback now): the customer is told and hung up
]]
--- @include "apply-effect"
--- @include "callbacks"

local h = redis.call('HMGET', KEY.call, 'state', 'cb_state', 'cb_attempt', 'cb_agent', 'cb_number', 'cb_intent')
if h[1] ~= 'callback' or h[2] ~= 'dialing' or h[3] ~= ARG.attempt then return {'absent'} end
callback_event(KEY.events, ARG.events_max, 'callback.connected', ARG.call_uuid, ARG.old_queue_name, ARG.attempt, h[5],
  {intent_id = h[6]})
apply_effect(KEY, ARG)
redis.call('HSET', KEY.call, 'cb_state', 'connected', 'cb_leg', ARG.leg_uuid)
redis.call('HDEL', KEY.call, 'cb_number', 'from_number')
redis.call('ZREM', KEY.callbacks, ARG.call_uuid)
return {'ok', h[4]}

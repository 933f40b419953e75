--[[
  A waiting caller asks to be called back (SPEC §10; the waiting room's offer, or a callback
  intent): it stays in its queue, in its place, as a callback member (includes/callbacks.lua).

  Once: run twice for one call (ioredis resending it after a lost reply), it answers the first
  run's reply and changes nothing more (redis-script.ts).

  KEYS:
    call              the call's hash
    queue             the queue's members, by service order
    callbacks         the queue's callback members, by when they may next be offered
    events            the event stream

  ARGV:
    call_uuid         the caller
    queue_name        its queue
    number            where to call it back ('' for the From Plivo reported, kept as from_number)
    intent_id         the callback intent ('' for the waiting room's offer)
    events_max        the event stream's length

  Returns:
    {'ok', number}        it is a callback member now (or was already: its number is updated)
    {'not_waiting'}       the caller does not wait in that queue
    {'absent'}            no number given, and Plivo never reported the caller's
]]
--- @include "queue-events"
--- @include "callbacks"

local h = redis.call('HMGET', KEY.call, 'state', 'queue', 'from_number', 'cb_number')
if (h[1] ~= 'queued' and h[1] ~= 'callback') or h[2] ~= ARG.queue_name
    or not redis.call('ZSCORE', KEY.queue, ARG.call_uuid) then
  return {'not_waiting'}
end
local number = ARG.number
if number == '' then number = h[4] or h[3] end
if not number or number == '' then return {'absent'} end
if h[1] == 'callback' then
  redis.call('HSET', KEY.call, 'cb_number', number)
  return {'ok', number}
end
redis.call('HSET', KEY.call, 'state', 'callback', 'cb_number', number, 'cb_attempt', 0, 'cb_state', 'waiting')
redis.call('ZADD', KEY.callbacks, 0, ARG.call_uuid)
local extra = nil
if ARG.intent_id ~= '' then extra = {intent_id = ARG.intent_id} end
callback_event(KEY.events, ARG.events_max, 'callback.requested', ARG.call_uuid, ARG.queue_name, 0, number, extra)
return {'ok', number}

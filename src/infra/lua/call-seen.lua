--[[
  Plivo fetched one of holdq's XML documents for a call (xml-routes.ts): that shows where the call
  is. The fetch is remembered on the call (kind, queue, when, and the caller's number when asked), as evidence for an intent whose run
  was cut short (`repair` in process-intent.ts), and a call whose state is `unknown` takes the
  state the fetch proves: a hold or park document, on hold; a queue's waiting room, queued there
  (in the place its enqueue booked, or at the back of a queue it did not name); a bridge room,
  bridged. Only calls holdq tracks are touched: no key is made for a call it never moved.

  KEYS:
    call              the call's hash
    on_hold           calls on hold
    queue_index       known queue names
    queue_activity    queue names by their last change
    queue             the queue whose waiting room was fetched
    queue_times       its members by join time
    stats             its stats (queue-events)
    events            the event stream

  ARGV:
    call_uuid         the call
    kind              hold, queue or bridge
    queue_name        the waiting room's queue ('' for other kinds)
    now_ms            now, ms
    now_iso           now, for the call's since
    back_score        a place at the back of the queue, for a call its enqueue did not book there
    events_max        the event stream's length
    from_number       the caller's number as Plivo reported it, kept for a call back (SPEC §10; '' to keep none)

  Returns:
    {'changed'}       the call's state was unknown, and now is what the fetch shows
    {'unchanged'}     the fetch is remembered; the state stays
]]
--- @include "queue-touched"
--- @include "queue-events"

if redis.call('EXISTS', KEY.call) == 0 then return {'unchanged'} end
redis.call('HSET', KEY.call, 'seen_kind', ARG.kind, 'seen_queue', ARG.queue_name, 'seen_at', ARG.now_ms)
if ARG.from_number ~= '' then redis.call('HSET', KEY.call, 'from_number', ARG.from_number) end
local h = redis.call('HMGET', KEY.call, 'state', 'queue', 'queue_score', 'held_legs')
if h[1] ~= 'unknown' then return {'unchanged'} end
local now_ms = tonumber(ARG.now_ms)
local function settled(type, legs)
  local data = {call_uuid = ARG.call_uuid}
  if legs then data.legs = legs end
  emit(KEY.events, ARG.events_max, type, data)
end
if ARG.kind == 'hold' then
  redis.call('HSET', KEY.call, 'state', 'on_hold', 'queue', '', 'since', ARG.now_iso, 'held_legs', h[4] or 'aleg')
  redis.call('ZADD', KEY.on_hold, 'NX', ARG.now_ms, ARG.call_uuid)
  settled('call.held', h[4] or 'aleg')
elseif ARG.kind == 'queue' then
  local score = ARG.back_score
  if h[2] == ARG.queue_name and h[3] then score = h[3] end
  redis.call('HSET', KEY.call, 'state', 'queued', 'queue', ARG.queue_name, 'since', ARG.now_iso, 'held_legs', '')
  queue_join({queue = KEY.queue, queue_times = KEY.queue_times, stats = KEY.stats, events = KEY.events,
    events_max = ARG.events_max, name = ARG.queue_name}, KEY.call, ARG.call_uuid, score, now_ms)
  queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
else
  redis.call('HSET', KEY.call, 'state', 'bridged', 'queue', '', 'since', ARG.now_iso, 'held_legs', '')
  settled('call.bridged')
end
redis.call('HDEL', KEY.call, 'queue_score')
return {'changed'}

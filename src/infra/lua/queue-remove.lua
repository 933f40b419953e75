--[[
  Takes a caller out of a queue whatever its place (queue-store.ts): a caller who hung up.

  KEYS:
    queue             the queue's members, by service order
    queue_times       the same members, by join time
    queue_index       known queue names
    queue_activity    queue names by their last change
    stats             the queue's stats (queue-events)
    events            the event stream

  ARGV:
    call_uuid         the caller
    queue_name        the queue
    now_ms            now, ms
    events_max        the event stream's length

  Returns:
    {'removed', joined_ms}   it was there; when it had joined (ms), or false
    {'absent'}               it was not there
]]
--- @include "queue-touched"
--- @include "queue-events"

local joined = redis.call('ZSCORE', KEY.queue_times, ARG.call_uuid)
local rank = redis.call('ZRANK', KEY.queue, ARG.call_uuid)
if redis.call('ZREM', KEY.queue, ARG.call_uuid) == 0 then return {'absent'} end
redis.call('ZREM', KEY.queue_times, ARG.call_uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
-- Its queue.left comes with the change that ends its call (set-call-state).
announce_positions({queue = KEY.queue, queue_times = KEY.queue_times, stats = KEY.stats, events = KEY.events,
  events_max = ARG.events_max, name = ARG.queue_name}, rank, tonumber(ARG.now_ms))
return {'removed', joined or false}

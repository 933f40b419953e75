--[[
  Takes one caller out of a queue, atomically (queue-store.ts): the named one, or the first in line.
  Two takers never get the same caller.

  KEYS:
    queue             the queue's members, by service order
    queue_times       the same members, by join time
    queue_index       known queue names
    queue_activity    queue names by their last change
    stats             the queue's stats (queue-events)
    events            the event stream

  ARGV:
    call_uuid         the caller to take ('' for the first in line)
    queue_name        the queue
    now_ms            now, ms
    events_max        the event stream's length

  Returns:
    {'taken', call_uuid, score}   the caller, and its score (its place: priority and join time)
    {'empty'}                     no such caller (or nobody) waits there
]]
--- @include "queue-touched"
--- @include "queue-events"

local q = {queue = KEY.queue, queue_times = KEY.queue_times, stats = KEY.stats, events = KEY.events,
  events_max = ARG.events_max, name = ARG.queue_name}
local now_ms = tonumber(ARG.now_ms)
local uuid, score, rank
if ARG.call_uuid ~= '' then
  score = redis.call('ZSCORE', KEY.queue, ARG.call_uuid)
  if not score then return {'empty'} end
  uuid = ARG.call_uuid
  rank = redis.call('ZRANK', KEY.queue, uuid)
  redis.call('ZREM', KEY.queue, uuid)
else
  local head = redis.call('ZPOPMIN', KEY.queue)
  if #head == 0 then return {'empty'} end
  uuid, score, rank = head[1], head[2], 0
end
redis.call('ZREM', KEY.queue_times, uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
-- The taken caller's queue.left comes with the change the take leads to (bridged, or gone).
record_take(KEY.stats, now_ms)
announce_positions(q, rank, now_ms)
return {'taken', uuid, score}

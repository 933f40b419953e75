--[[
  Takes one caller out of a queue, atomically (queue-store.ts): the named one, or the first in line.
  Two takers never get the same caller.

  Once: run twice for one call (ioredis resending it after a lost reply), it answers the first
  run's reply and changes nothing more (redis-script.ts).

  KEYS:
    queue             the queue's members, by service order
    queue_times       the same members, by join time
    queue_index       known queue names
    queue_activity    queue names by their last change
    stats             the queue's stats (queue-events)
    events            the event stream
    callbacks         the queue's callback members, by when they may next be offered

  ARGV:
    call_uuid         the caller to take ('' for the first in line who may be served now)
    queue_name        the queue
    now_ms            now, ms
    events_max        the event stream's length

  Returns:
    {'taken', call_uuid, score, callback}
                                  the caller, its score (its place: priority and join time), and
                                  1 when it is a callback member (SPEC §10), else 0
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
elseif redis.call('ZCARD', KEY.callbacks) == 0 then
  local head = redis.call('ZPOPMIN', KEY.queue)
  if #head == 0 then return {'empty'} end
  uuid, score, rank = head[1], head[2], 0
else
  -- The first in line who may be served now: a callback member whose last attempt went unanswered
  -- keeps its place but is passed over until its retry time (the first SCAN members are looked at).
  local SCAN = 500
  local members = redis.call('ZRANGE', KEY.queue, 0, SCAN - 1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local not_before = redis.call('ZSCORE', KEY.callbacks, members[i])
    if not not_before or tonumber(not_before) <= now_ms then
      uuid, score, rank = members[i], members[i + 1], (i - 1) / 2
      break
    end
  end
  if not uuid then return {'empty'} end
  redis.call('ZREM', KEY.queue, uuid)
end
redis.call('ZREM', KEY.queue_times, uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
-- The taken caller's queue.left comes with the change the take leads to (bridged, or gone).
record_take(KEY.stats, now_ms)
announce_positions(q, rank, now_ms)
local callback = 0
if redis.call('ZSCORE', KEY.callbacks, uuid) then callback = 1 end
return {'taken', uuid, score, callback}

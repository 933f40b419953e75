--[[
  Takes one caller out of a queue, atomically (queue-store.ts): the named one, or the first in line.
  Two takers never get the same caller.

  KEYS:
    queue             the queue's members, by service order
    queue_times       the same members, by join time
    queue_index       known queue names
    queue_activity    queue names by their last change

  ARGV:
    call_uuid         the caller to take ('' for the first in line)
    queue_name        the queue
    now_ms            now, ms

  Returns:
    {'taken', call_uuid, score}   the caller, and its score (its place: priority and join time)
    {'empty'}                     no such caller (or nobody) waits there
]]
--- @include "queue-touched"

local uuid, score
if ARG.call_uuid ~= '' then
  score = redis.call('ZSCORE', KEY.queue, ARG.call_uuid)
  if not score then return {'empty'} end
  uuid = ARG.call_uuid
  redis.call('ZREM', KEY.queue, uuid)
else
  local head = redis.call('ZPOPMIN', KEY.queue)
  if #head == 0 then return {'empty'} end
  uuid, score = head[1], head[2]
end
redis.call('ZREM', KEY.queue_times, uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
return {'taken', uuid, score}

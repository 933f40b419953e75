--[[
  Takes a caller out of a queue whatever its place (queue-store.ts): a caller who hung up.

  KEYS:
    queue             the queue's members, by service order
    queue_times       the same members, by join time
    queue_index       known queue names
    queue_activity    queue names by their last change

  ARGV:
    call_uuid         the caller
    queue_name        the queue
    now_ms            now, ms

  Returns:
    {'removed', joined_ms}   it was there; when it had joined (ms), or false
    {'absent'}               it was not there
]]
--- @include "queue-touched"

local joined = redis.call('ZSCORE', KEY.queue_times, ARG.call_uuid)
if redis.call('ZREM', KEY.queue, ARG.call_uuid) == 0 then return {'absent'} end
redis.call('ZREM', KEY.queue_times, ARG.call_uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
return {'removed', joined or false}

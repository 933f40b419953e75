--[[
  Puts a taken caller back in its place (queue-store.ts): a dequeue that could not finish gives
  its caller back.

  KEYS:
    queue             the queue's members, by service order
    queue_times       the same members, by join time
    queue_index       known queue names
    queue_activity    queue names by their last change

  ARGV:
    call_uuid         the caller
    queue_name        the queue
    now_ms            now, ms
    score             its place, as it was taken
    joined_ms         when it had joined

  Returns:
    {'ok'}
]]
--- @include "queue-touched"

redis.call('ZADD', KEY.queue, ARG.score, ARG.call_uuid)
redis.call('ZADD', KEY.queue_times, ARG.joined_ms, ARG.call_uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
return {'ok'}

--[[
  Puts a taken caller back in its place (queue-store.ts): a dequeue that could not finish gives
  its caller back.

  Once: run twice for one call (ioredis resending it after a lost reply), it answers the first
  run's reply and changes nothing more (redis-script.ts).

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
    score             its place, as it was taken
    joined_ms         when it had joined

  Returns:
    {'ok'}
]]
--- @include "queue-touched"
--- @include "queue-events"

redis.call('ZADD', KEY.queue, ARG.score, ARG.call_uuid)
redis.call('ZADD', KEY.queue_times, ARG.joined_ms, ARG.call_uuid)
queue_touched(KEY.queue_index, KEY.queue_activity, ARG.queue_name, ARG.now_ms)
if redis.call('ZCARD', KEY.queue) == 1 then redis.call('HSET', KEY.stats, 'busy_since', ARG.now_ms) end
-- It is back in its place, and those behind it one place further back.
announce_positions({queue = KEY.queue, queue_times = KEY.queue_times, stats = KEY.stats, events = KEY.events,
  events_max = ARG.events_max, name = ARG.queue_name}, redis.call('ZRANK', KEY.queue, ARG.call_uuid), tonumber(ARG.now_ms))
return {'ok'}

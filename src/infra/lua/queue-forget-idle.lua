--[[
  Forgets queues created on demand that have been empty since `before` (queue-janitor.ts): they
  leave the index (GET /v1/queues) and the metrics. Configured queues are never forgotten. A
  queue's keys are built from its name here, as BullMQ's scripts build job keys: they share the
  prefix's hash tag, so on Redis Cluster they are in the script's slot.

  KEYS:
    queue_index       known queue names
    queue_activity    queue names by their last change

  ARGV:
    before_ms         forget queues whose last change came before this (ms)
    batch             at most this many queues are looked at
    queue_prefix      the prefix of a queue's key (the name follows it)
    now_ms            now, ms
    configured...     the names of the configured queues

  Returns:
    {'ok', forgotten}   how many queues were forgotten
]]

local keep = {}
for _, name in ipairs(ARG.configured) do keep[name] = true end
local forgotten = 0
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEY.queue_activity, '-inf', ARG.before_ms, 'LIMIT', 0, tonumber(ARG.batch))) do
  local members = ARG.queue_prefix .. name
  if keep[name] then
    redis.call('ZREM', KEY.queue_activity, name)
  elseif redis.call('ZCARD', members) == 0 then
    redis.call('ZREM', KEY.queue_index, name)
    redis.call('ZREM', KEY.queue_activity, name)
    redis.call('DEL', members, members .. ':since', members .. ':stats', members .. ':outcomes')
    forgotten = forgotten + 1
  else
    -- Callers wait there still: look again an idle period from now.
    redis.call('ZADD', KEY.queue_activity, ARG.now_ms, name)
  end
end
return {'ok', forgotten}

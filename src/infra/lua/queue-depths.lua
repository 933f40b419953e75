--[[
  Every known queue that has callers, with its depth and oldest join (queue-store.ts, for the
  metrics): one pass over the index, in one script. Queue keys are built from names, as in
  queue-forget-idle.lua.

  KEYS:
    queue_index       known queue names

  ARGV:
    queue_prefix      the prefix of a queue's key (the name follows it)

  Returns:
    {'ok', name, waiting, oldest_ms, …}   a triple per queue with callers
]]

local out = {'ok'}
for _, name in ipairs(redis.call('ZRANGE', KEY.queue_index, 0, -1)) do
  local n = redis.call('ZCARD', ARG.queue_prefix .. name)
  if n > 0 then
    local oldest = redis.call('ZRANGE', ARG.queue_prefix .. name .. ':since', 0, 0, 'WITHSCORES')[2] or '0'
    out[#out + 1] = name
    out[#out + 1] = n
    out[#out + 1] = oldest
  end
end
return out

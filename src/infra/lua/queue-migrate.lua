--[[
  The plain set of queue names an older holdq kept becomes the index, once (queue-store.ts).

  KEYS:
    legacy            the old set of names
    queue_index       known queue names
    queue_activity    queue names by their last change

  ARGV:
    now_ms            now, ms

  Returns:
    {'ok', moved}     how many names were moved (0 once done)
]]

if redis.call('TYPE', KEY.legacy).ok ~= 'set' then return {'ok', 0} end
local names = redis.call('SMEMBERS', KEY.legacy)
for _, name in ipairs(names) do
  redis.call('ZADD', KEY.queue_index, 0, name)
  redis.call('ZADD', KEY.queue_activity, 'NX', ARG.now_ms, name)
end
redis.call('DEL', KEY.legacy)
return {'ok', #names}

--[[
  A queue's membership changed: its name is known (the index lists it, in name order) and its
  activity time moves to now, so a queue left empty is forgotten QUEUE_IDLE_SECONDS after the
  change that emptied it (queue-forget-idle.lua). For every script that adds or removes callers.
]]

local function queue_touched(index, activity, name, now_ms)
  redis.call('ZADD', index, 0, name)
  redis.call('ZADD', activity, now_ms, name)
end

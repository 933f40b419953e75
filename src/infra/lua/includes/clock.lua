--[[
  Redis's clock, for the scripts that pace Plivo requests: every worker reads the same one,
  whatever its own clock says, and microseconds keep 1/rate exact.
]]

-- Now, in microseconds.
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Keeps a time (µs) in `key` until a second after it has passed, written exactly
-- (tostring keeps only 14 digits).
local function set_until(key, at, now)
  redis.call('SET', key, string.format('%.0f', at), 'PX', math.ceil((at - now) / 1000) + 1000)
end

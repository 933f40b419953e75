--[[
  After Plivo answered 429 (plivo-pacer.ts): nobody is admitted before its Retry-After has passed
  (no 429 storm), and the plan starts again after it.

  KEYS:
    pause             set while the Retry-After lasts
    tat               the plan's next send time

  ARGV:
    ms                the Retry-After

  Returns:
    {'ok'}
]]
--- @include "clock"

local ms = tonumber(ARG.ms)
if redis.call('PTTL', KEY.pause) < ms then redis.call('SET', KEY.pause, '1', 'PX', ms) end
local now = now_us()
local until_ = now + ms * 1000
if until_ > tonumber(redis.call('GET', KEY.tat) or '0') then set_until(KEY.tat, until_, now) end
return {'ok'}

--[[
  Releases requests the pacer admitted (plivo-pacer.ts), in one batch. An answered request counts
  from now for one more window, then no more, and the average answer time takes in how long it
  took. An abandoned one (a timeout, a broken connection: it may still be on its way) counts
  until `grace` from now at least. A discarded one (never sent) stops counting at once, and leaves
  the pacer's line if it was still waiting there.

  KEYS:
    sent              the guard's admitted requests
    answer            the average answer time
    line              the pacer's line of waiting requests
    seen              each waiter's last ask

  ARGV:
    hold_us           how long an unreleased request counts (its score is admission + hold)
    grace_us          how long an abandoned request counts from now
    answered          how many of the members were answered (they come first)
    abandoned         how many were abandoned (they come next; the rest were discarded)
    members...        the requests

  Returns:
    {'ok'}
]]
--- @include "clock"

local now = now_us()
local hold, grace = tonumber(ARG.hold_us), tonumber(ARG.grace_us)
local answered, abandoned = tonumber(ARG.answered), tonumber(ARG.abandoned)
local answer = tonumber(redis.call('GET', KEY.answer) or '0')
local seen = false
for i, member in ipairs(ARG.members) do
  if i > answered + abandoned then
    redis.call('ZREM', KEY.sent, member)
    redis.call('ZREM', KEY.line, member)
    redis.call('ZREM', KEY.seen, member)
  elseif i <= answered then
    local score = redis.call('ZSCORE', KEY.sent, member)
    if score then
      local took = now - (tonumber(score) - hold)
      if took >= 0 and took <= hold then
        answer = answer + (took - answer) / 8
        seen = true
      end
      redis.call('ZADD', KEY.sent, 'XX', now, member)
    end
  else
    local score = redis.call('ZSCORE', KEY.sent, member)
    if score and tonumber(score) < now + grace then redis.call('ZADD', KEY.sent, 'XX', now + grace, member) end
  end
end
if seen then redis.call('SET', KEY.answer, tostring(math.floor(answer)), 'PX', 600000) end
return {'ok'}

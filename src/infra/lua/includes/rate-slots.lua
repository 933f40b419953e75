--[[
  The Plivo pacer's slots (plivo-pacer.ts explains the design): the plan books each request a send
  time, 1/rate after the last; the guard admits a request, at the moment it is sent, only while
  fewer than `max` others may still arrive at Plivo inside the trailing window.

  k: tat (the plan's next send time), plan (booked send times), sent (the guard: admitted requests,
     each scored by when it stops counting), answer (the average answer time, µs), pause (set
     while a 429's Retry-After lasts), retry (the retry line's next place)
  p: interval_us (1/rate), max (requests per window), window_us, margin_us (the plan's least slack
     beyond the window), member (this request), hold_us (how long an unreleased request counts)
]]
--- @include "clock"

-- A place in the retry line: no sooner than `earliest`, and 1/rate after the last refused one,
-- so refused requests come back one by one, ahead of the rest of the plan.
local function retry_at(k, now, earliest, interval)
  local line = tonumber(redis.call('GET', k.retry) or '0')
  local send = earliest
  if line > send then send = line end
  set_until(k.retry, send + interval, now)
  return send
end

-- The guard. Answers 0 (admitted) or the ms to wait before asking again. A refused request waits
-- no sooner than the answers that block leave the window (when one of them is still in flight, a
-- whole window: its answer counts for a window after it comes, nothing frees sooner), or than
-- the pause after a 429 ends.
local function admit(k, now, p)
  local pause = redis.call('PTTL', k.pause)
  if pause > 0 then return math.ceil((retry_at(k, now, now + pause * 1000, p.interval_us) - now) / 1000) end
  redis.call('ZREMRANGEBYSCORE', k.sent, '-inf', now - p.window_us)
  local count = redis.call('ZCARD', k.sent)
  if count < p.max then
    -- No expiry: every call trims the set to the last window, and it never holds more than max.
    redis.call('ZADD', k.sent, now + p.hold_us, p.member)
    return 0
  end
  local nth = tonumber(redis.call('ZRANGE', k.sent, count - p.max, count - p.max, 'WITHSCORES')[2])
  local earliest = now + p.window_us
  if nth <= now then earliest = nth + p.window_us end
  local send = retry_at(k, now, earliest, p.interval_us)
  redis.call('ZADD', k.plan, send, p.member)
  local keep = math.ceil((send - now + 2 * p.window_us) / 1000) + 1000
  if redis.call('PTTL', k.plan) < keep then redis.call('PEXPIRE', k.plan, keep) end
  return math.max(1, math.ceil((send - now) / 1000))
end

-- Books the next slot of the plan; answers how many ms to wait for it (0: due now, and admitted by
-- the guard). The planned window is the guard's window plus the time answers take (an average the
-- releases keep, at least margin_us): what a place at the guard really lasts.
local function reserve_slot(k, p)
  local now = now_us()
  local margin = p.margin_us
  local answer = tonumber(redis.call('GET', k.answer) or '0')
  if answer > margin then margin = answer end
  local span = p.window_us + margin
  local send = tonumber(redis.call('GET', k.tat) or '0')
  if send < now then send = now end
  redis.call('ZREMRANGEBYSCORE', k.plan, '-inf', now - span)
  local count = redis.call('ZCOUNT', k.plan, send - span, '+inf')
  if count >= p.max then
    local nth = redis.call('ZRANGEBYSCORE', k.plan, send - span, '+inf', 'WITHSCORES', 'LIMIT', count - p.max, 1)
    local earliest = tonumber(nth[2]) + span
    if earliest > send then send = earliest end
  end
  redis.call('ZADD', k.plan, send, p.member)
  redis.call('PEXPIRE', k.plan, math.ceil((send - now + span) / 1000) + 1000)
  set_until(k.tat, send + p.interval_us, now)
  -- Less than a millisecond ahead is due now (a timer could not wait less; the guard keeps the cap).
  if send - now >= 1000 then return math.ceil((send - now) / 1000) end
  return admit(k, now, p)
end

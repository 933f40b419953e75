--[[
  The Plivo pacer's slots (plivo-pacer.ts; docs/architecture.md, "The Plivo pacer").

  - The line: requests waiting for their turn, ordered by priority (lower first), then by arrival.
    The head of the line takes the next slot once it is less than 1/rate away (and waits out the
    rest: the plan's times stay exact however late a waiter wakes); the others are told how long
    to wait (their rank times 1/rate) and ask again then. The turn of each request granted is
    the turn its class is serving (fair: lua/accept.lua). A waiter that stops asking (its worker
    died) leaves the line after a lease, and a head that is late to ask (a busy event loop) lets
    the next asker have the slot, keeping its own place.
  - The plan books each granted request a send time, 1/rate after the last, with no planned
    window holding more than `max`.
  - The guard admits a request, at the moment it is sent, only while fewer than `max` others may
    still arrive at Plivo inside the trailing window.

  k: tat (the plan's next send time), plan (granted send times), sent (the guard: admitted
     requests, each scored by when it stops counting), answer (the average answer time, µs),
     pause (set while a 429's Retry-After lasts), retry (the retry line's next place), line
     (the waiting line), seen (each waiter's last ask, µs), seq (the line's arrival counter),
     fair (the turns of this request's class: 'vt', the turn being served)
  p: interval_us (1/rate), max (requests per window), window_us, margin_us (the plan's least
     slack beyond the window), member (this request), hold_us (how long an unreleased request
     counts), priority (lower is served first), lease_us (how long a waiter keeps its place
     without asking), turn (this request's turn in its class; 0: none)
]]
--- @include "clock"

-- A waiter at the head of the line this late to take a due slot gives it to the next asker.
local LATE_HEAD_US = 30000
-- The longest a waiter sleeps before asking again (well inside its lease).
local MAX_WAIT_MS = 1000

-- A place in the retry line: no sooner than `earliest`, and 1/rate after the last refused one,
-- so refused requests come back one by one, ahead of the plan.
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

-- The next send time the plan allows from now: 1/rate after the last granted, and no planned
-- window (the guard's window plus the time answers take, at least margin_us) over `max`.
local function next_send(k, now, p)
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
  return send, span
end

-- Books `p.member` the next slot of the plan, out of the line; answers the ms to wait for it
-- (0: due now, and admitted by the guard).
local function grant(k, now, p, send, span)
  redis.call('ZREM', k.line, p.member)
  redis.call('ZREM', k.seen, p.member)
  if p.turn > 0 and p.turn > tonumber(redis.call('HGET', k.fair, 'vt') or '0') then
    redis.call('HSET', k.fair, 'vt', p.turn)
  end
  redis.call('ZADD', k.plan, send, p.member)
  redis.call('PEXPIRE', k.plan, math.ceil((send - now + span) / 1000) + 1000)
  set_until(k.tat, send + p.interval_us, now)
  -- Less than a millisecond ahead is due now (a timer could not wait less; the guard keeps the cap).
  if send - now >= 1000 then return math.ceil((send - now) / 1000) end
  return admit(k, now, p)
end

-- Waiters that stopped asking (their worker died, or gave the slot up unsaid) leave the line.
local function purge_line(k, now, lease)
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', k.seen, '-inf', now - lease, 'LIMIT', 0, 50)) do
    redis.call('ZREM', k.line, gone)
    redis.call('ZREM', k.seen, gone)
  end
end

-- A waiter asks for its turn: the slot when it is at the head (or the head is late) and the slot
-- is less than 1/rate away; else how long to wait (the head: until then). A request already out
-- of the line (granted) asks the guard.
local function ask(k, now, p)
  local rank = redis.call('ZRANK', k.line, p.member)
  if not rank then return admit(k, now, p) end
  redis.call('ZADD', k.seen, now, p.member)
  local send, span = next_send(k, now, p)
  local near = send - now < p.interval_us
  local tat = tonumber(redis.call('GET', k.tat) or '0')
  if near and (rank == 0 or now - tat > LATE_HEAD_US) then return grant(k, now, p, send, span) end
  return math.max(1, math.min(MAX_WAIT_MS, math.ceil((send - now + (rank - 1) * p.interval_us) / 1000)))
end

-- A request joins the line, by priority then arrival, and asks for its turn.
local function reserve_slot(k, p)
  local now = now_us()
  purge_line(k, now, p.lease_us)
  local arrival = redis.call('INCR', k.seq) % 1048576
  redis.call('ZADD', k.line, 'NX', p.priority * 1048576 + arrival, p.member)
  return ask(k, now, p)
end

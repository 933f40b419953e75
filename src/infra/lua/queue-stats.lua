--[[
  What a queue looks like from its past (queue-store.ts, SPEC §9): the estimated wait of its
  first members and of a caller joining now (queue-events' estimator), and how its callers left
  in the window (for the service level and the abandoned ratio). Reads only.

  KEYS:
    queue             the queue's members, by service order
    stats             the queue's stats (queue-events)
    outcomes          how its callers left, by time

  ARGV:
    now_ms            now, ms
    limit             members to estimate (0 for none)
    join_score        the place of a caller of priority 0 joining now
    since_ms          the window's start: outcomes before it do not count ('+inf': none is read)
    threshold_ms      answered within this counts toward the service level
    member            a member whose estimate is wanted wherever it waits ('' for none)

  Returns:
    {'ok', joining, answered, answered_within, abandoned, overflowed, member, members...}
                      joining: a caller joining now's estimate (s), or false; the counts in the
                      window; member: that member's estimate, or false; members: call_uuid,
                      score, estimate (s, or false) for each of the first `limit`
]]
--- @include "queue-events"

local now_ms = tonumber(ARG.now_ms)
local est = estimator(KEY.stats, now_ms)
local function value(x) if x == cjson.null then return false end return x end
local ahead = redis.call('ZCOUNT', KEY.queue, '-inf', ARG.join_score)
local waiting = redis.call('ZCARD', KEY.queue)
local reply = {'ok', value(estimate_seconds(est, ahead + 1, 0, waiting)), 0, 0, 0, 0, false}
if ARG.member ~= '' then
  local rank = redis.call('ZRANK', KEY.queue, ARG.member)
  if rank then
    reply[7] = value(estimate_seconds(est, rank + 1, score_priority(redis.call('ZSCORE', KEY.queue, ARG.member)),
      waiting - 1))
  end
end
local threshold = tonumber(ARG.threshold_ms)
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEY.outcomes, ARG.since_ms, '+inf')) do
  local reason, wait = string.match(entry, '^%d+:(%a+):(%d+):')
  if reason == 'bridged' then
    reply[3] = reply[3] + 1
    if tonumber(wait) <= threshold then reply[4] = reply[4] + 1 end
  elseif reason == 'abandoned' then
    reply[5] = reply[5] + 1
  elseif reason == 'overflow' then
    reply[6] = reply[6] + 1
  end
end
local limit = tonumber(ARG.limit)
if limit > 0 then
  local members = redis.call('ZRANGE', KEY.queue, 0, limit - 1, 'WITHSCORES')
  for i = 1, #members, 2 do
    reply[#reply + 1] = members[i]
    reply[#reply + 1] = members[i + 1]
    reply[#reply + 1] = value(estimate_seconds(est, (i + 1) / 2, score_priority(members[i + 1]), waiting - 1))
  end
end
return reply

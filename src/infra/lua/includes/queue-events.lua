--[[
  The event stream (SPEC §8) and what queues know of their past (SPEC §9), for the scripts that
  change a call or a queue: each writes the events that report its change in the same step, so a
  crash can never leave an event that disagrees with the state, and an event's estimate is the
  one the state gave at that moment.

  emit(stream, max, type, data): one event. The entry holds its type, its call and queue (the
  readers' filters) and its data as JSON; the event's time is the entry's id. The stream is
  trimmed to about `max` entries (XADD MAXLEN ~).

  The waiting-time estimator (README, "Estimated wait"). A queue's stats hash keeps:
    x0 … x49    the last 50 times between two takes while callers waited (ms), a ring,
    a0 … a49    when each was measured, and
    e0 … e49    1 when it was measured from busy_since (the queue had been empty: it is how long
                a caller who found nobody ahead waited), 0 when from the take before (callers
                waited all along: every agent was busy, it is the agents' pace)
    xi, xn      the ring's next slot, and how many it holds
    last_take   when a caller was last taken (ms)
    busy_since  when the queue last went from empty to waiting (ms)
    jc:<p>, jt:<p>, jf:<p>  callers of priority p who joined: a count decaying with time (TAU_MS),
                when it was last updated, and when the first of them joined
  Of the ring's times of the last WINDOW_MS (or the newest alone, if none is that recent): m is
  their mean, b the mean of the n measured while callers waited all along, and f the mean of
  those measured from an empty queue. The time per place is
    s = w × b + (1 - w) × m,   w = n / (n + PRIOR)
  (the agents' pace, trusted as its samples accumulate; m alone while there is none), or, for a
  member with nobody else waiting, f (m if there is none). s' is s or, when nobody has been taken
  for longer than STALL places, that time over STALL (agents who stopped taking callers make the
  estimate grow). A member at position k, of priority p, is estimated to wait
    k × s' / (1 - ρ)
  where ρ (at most 0.8) is the share of service that callers of a higher priority, who will join
  ahead of it, are expected to take: their arrival rate × s'. The rate is the decayed count over
  the time it covers (at most TAU_MS), so it is right from the first minutes.
  Until the queue has seen one take while callers waited, there is no estimate (nil).
  The choices were measured: bench/estimate.mjs, bench/findings.md.
]]

local TAU_MS = 300000 -- arrival counters decay over five minutes
local RING = 50 -- times between takes kept
local WINDOW_MS = 90000 -- the times per place that count: those of the last minute and a half
local STALL = 6 -- places without a take before the wait so far stretches the estimate
local PRIOR = 20 -- the agents' pace is trusted as much as the plain mean once it has 20 samples
local MAX_SHARE = 0.8
local POSITION_EVENTS = 100 -- queue.position events go to the first this many members

local function emit(stream, max, type, data)
  redis.call('XADD', stream, 'MAXLEN', '~', max, '*', 'type', type,
    'call', data.call_uuid or '', 'queue', data.queue or '', 'data', cjson.encode(data))
end

-- A member's priority, from its score in the queue (queue-store.ts memberScore).
local function score_priority(score)
  return 1000 - math.floor(tonumber(score) / 1e12)
end

-- What the estimate needs from a queue's stats hash at `now_ms`, or nil before its first take.
local function estimator(stats, now_ms)
  local all = redis.call('HGETALL', stats)
  local h = {}
  for i = 1, #all, 2 do h[all[i]] = all[i + 1] end
  local n = tonumber(h.xn or '0')
  if n < 1 then return nil end
  -- sums and counts of the recent times: all of them, those while callers waited all along
  -- (busy), those from an empty queue (empty)
  local sum, recent, busy, nbusy, empty, nempty = 0, 0, 0, 0, 0, 0
  local newest, newest_empty, newest_at = 0, false, -1
  for i = 0, n - 1 do
    local x, at = tonumber(h['x' .. i] or '0'), tonumber(h['a' .. i] or '0')
    local from_empty = h['e' .. i] == '1'
    if now_ms - at <= WINDOW_MS then
      sum, recent = sum + x, recent + 1
      if from_empty then empty, nempty = empty + x, nempty + 1 else busy, nbusy = busy + x, nbusy + 1 end
    end
    if at > newest_at then newest, newest_empty, newest_at = x, from_empty, at end
  end
  if recent == 0 then
    sum, recent = newest, 1
    if newest_empty then empty, nempty = newest, 1 else busy, nbusy = newest, 1 end
  end
  local mean = sum / recent
  local s = mean
  if nbusy > 0 then
    local w = nbusy / (nbusy + PRIOR)
    s = w * busy / nbusy + (1 - w) * mean
  end
  local lone = mean
  if nempty > 0 then lone = empty / nempty end
  local since = math.max(tonumber(h.last_take or '0'), tonumber(h.busy_since or '0'))
  local rates = {}
  for field, count in pairs(h) do
    local p = string.match(field, '^jc:(-?%d+)$')
    if p then
      local at = tonumber(h['jt:' .. p] or now_ms)
      local span = math.max(1000, now_ms - tonumber(h['jf:' .. p] or now_ms))
      local covered = TAU_MS * (1 - math.exp(-span / TAU_MS))
      rates[#rates + 1] = {tonumber(p), tonumber(count) * math.exp(-(now_ms - at) / TAU_MS) / covered}
    end
  end
  return {s = s, lone = lone, elapsed = math.max(0, now_ms - since), rates = rates}
end

-- The estimated wait in whole seconds of a member at `position` with `priority`, `others` other
-- callers waiting in the queue (0: nobody else), or cjson.null.
local function estimate_seconds(est, position, priority, others)
  if not est then return cjson.null end
  local base = est.s
  if others == 0 then base = est.lone end
  local s = math.max(base, est.elapsed / STALL)
  local higher = 0
  for _, r in ipairs(est.rates) do
    if r[1] > priority then higher = higher + r[2] end
  end
  local share = math.min(MAX_SHARE, higher * s)
  return math.floor(position * s / (1 - share) / 1000 + 0.5)
end

-- queue.position for the members from `from_rank` (0-based) on, to `to_rank` when given, the
-- first POSITION_EVENTS only.
local function announce_positions(q, from_rank, now_ms, to_rank)
  if from_rank >= POSITION_EVENTS then return end
  local last = POSITION_EVENTS - 1
  if to_rank and to_rank < last then last = to_rank end
  local members = redis.call('ZRANGE', q.queue, from_rank, last, 'WITHSCORES')
  if #members == 0 then return end
  local est = estimator(q.stats, now_ms)
  local others = redis.call('ZCARD', q.queue) - 1
  for i = 1, #members, 2 do
    local position = from_rank + (i + 1) / 2
    emit(q.events, q.events_max, 'queue.position', {
      call_uuid = members[i], queue = q.name, position = position,
      estimated_wait_seconds = estimate_seconds(est, position, score_priority(members[i + 1]), others),
    })
  end
end

-- A caller joins queue `q` ({queue, queue_times, stats, events, events_max, name}) at `score`:
-- its place, its join time on the call (`call`, for its wait when it leaves), the queue's
-- arrival counters, queue.joined, and queue.position for those it went ahead of.
local function queue_join(q, call, call_uuid, score, now_ms)
  redis.call('ZADD', q.queue, score, call_uuid)
  redis.call('ZADD', q.queue_times, now_ms, call_uuid)
  local waiting = redis.call('ZCARD', q.queue)
  if waiting == 1 then redis.call('HSET', q.stats, 'busy_since', now_ms) end
  local p = tostring(score_priority(score))
  local j = redis.call('HMGET', q.stats, 'jc:' .. p, 'jt:' .. p)
  local decayed = tonumber(j[1] or '0') * math.exp(-(now_ms - tonumber(j[2] or now_ms)) / TAU_MS)
  redis.call('HSET', q.stats, 'jc:' .. p, decayed + 1, 'jt:' .. p, now_ms)
  redis.call('HSETNX', q.stats, 'jf:' .. p, now_ms)
  redis.call('HSET', call, 'queued_ms', now_ms)
  local rank = redis.call('ZRANK', q.queue, call_uuid)
  emit(q.events, q.events_max, 'queue.joined', {
    call_uuid = call_uuid, queue = q.name, position = rank + 1,
    estimated_wait_seconds = estimate_seconds(estimator(q.stats, now_ms), rank + 1, tonumber(p), waiting - 1),
  })
  announce_positions(q, rank + 1, now_ms)
end

-- A take while callers waited: the time since the last take (or since callers began to wait)
-- joins the ring of times per place, with when it was measured and which of the two it was from.
local function record_take(stats, now_ms)
  local h = redis.call('HMGET', stats, 'last_take', 'busy_since', 'xi', 'xn')
  local last, busy_since = tonumber(h[1] or '0'), tonumber(h[2] or '0')
  local since = math.max(last, busy_since)
  if since > 0 and now_ms >= since then
    local i = tonumber(h[3] or '0')
    local from_empty = 0
    if busy_since > last then from_empty = 1 end
    redis.call('HSET', stats, 'x' .. i, now_ms - since, 'a' .. i, now_ms, 'e' .. i, from_empty,
      'xi', (i + 1) % RING, 'xn', math.min(RING, tonumber(h[4] or '0') + 1))
  end
  redis.call('HSET', stats, 'last_take', now_ms)
end

-- A caller's time in queue `q` ended (`reason`: bridged, abandoned, overflow, callback, moved),
-- `joined_ms` ago: queue.left, and its outcome kept for the service level (`outcomes`, a sorted
-- set by time, a day and 20000 at most; nil to keep none).
local function queue_left(q, outcomes, call_uuid, reason, joined_ms, now_ms)
  local wait_ms = math.max(0, now_ms - joined_ms)
  emit(q.events, q.events_max, 'queue.left', {
    call_uuid = call_uuid, queue = q.name, reason = reason, wait_seconds = math.floor(wait_ms / 100 + 0.5) / 10,
  })
  if not outcomes then return end
  redis.call('ZADD', outcomes, now_ms, now_ms .. ':' .. reason .. ':' .. wait_ms .. ':' .. call_uuid)
  redis.call('ZREMRANGEBYSCORE', outcomes, '-inf', now_ms - 86400000)
  redis.call('ZREMRANGEBYRANK', outcomes, 0, -20001)
end

-- The call.* events of a change from `old_state` to `state` (an unknown state reports nothing: the
-- fetch that settles it does).
local function call_events(stream, max, call_uuid, intent_id, old_state, old_legs, state, held_legs)
  local function call_event(type, legs)
    local data = {call_uuid = call_uuid}
    if intent_id ~= '' then data.intent_id = intent_id end
    if legs and legs ~= '' then data.legs = legs end
    emit(stream, max, type, data)
  end
  if state == old_state or state == 'unknown' then return end
  if state == 'on_hold' then call_event('call.held', held_legs) end
  if old_state == 'on_hold' and state ~= 'ended' then call_event('call.unheld', old_legs) end
  -- Off hold, a call is back in its conversation: call.unheld says so, not call.bridged.
  if state == 'bridged' and old_state ~= 'on_hold' then call_event('call.bridged') end
  if state == 'ended' then call_event('call.ended') end
end

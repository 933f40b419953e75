--[[
  The per-call gate (call-state.ts). An intent may run only when it is the oldest unfinished
  intent of its call (the head of the call's line) AND it holds the call's lock: the first keeps
  per-call order across retries and delays, the second keeps a stalled job from running again
  while its first run is still alive. When the gate opens on a record it marks the run (status
  running, one more attempt, updated_at) unless the record is finished or a newer intent of the
  call has taken effect, and then books the first transfer's rate slot: two round trips fewer
  before Plivo hears of the intent. The record and the call's state come back with it.

  KEYS:
    pending           the call's line
    lock              the call's lock
    call              the call's hash
    intent            the intent's record
    rate_tat          the Plivo pacer's keys (rate-slots: tat, plan, sent, answer, pause, retry,
                      line, seen, seq, fair)
    rate_plan
    rate_sent
    rate_answer
    rate_pause
    rate_retry
    rate_line
    rate_seen
    rate_seq
    rate_fair

  ARGV:
    id                the intent id
    token             this run's lock token
    lock_ms           how long the lock lasts
    now_iso           now, for the record's updated_at
    book              1 to book a rate slot for the first transfer, 0 not to
    interval_us       the pacer's slot (rate-slots: p, as named there)
    max
    window_us
    margin_us
    member
    hold_us
    priority
    lease_us
    turn

  Returns:
    {'ok', record, call, wait}   the run may go: the record as marked ('' when gone), the call's
                                 hash (HGETALL), and the ms to wait for the booked slot (-1: none booked)
    {'blocked', head}            an older intent of the call is unfinished: head is its id
    {'locked'}                   another run holds the call's lock
]]
--- @include "mark-running"
--- @include "rate-slots"

local head = redis.call('ZRANGE', KEY.pending, 0, 0)[1]
if head and head ~= ARG.id and redis.call('ZSCORE', KEY.pending, ARG.id) then return {'blocked', head} end
-- A lock held by this run's own token is this run's: ioredis resent the gate after a lost reply
-- (redis-script.ts). The first run marked the record and booked the slot; this one asks for that
-- slot's turn again instead of booking a second.
local resent = false
if not redis.call('SET', KEY.lock, ARG.token, 'NX', 'PX', ARG.lock_ms) then
  if redis.call('GET', KEY.lock) ~= ARG.token then return {'locked'} end
  resent = true
end
-- The pacer's keys and this request's slot, as rate-slots takes them (only when a slot is booked).
local function pacer()
  local k = {tat = KEY.rate_tat, plan = KEY.rate_plan, sent = KEY.rate_sent, answer = KEY.rate_answer,
    pause = KEY.rate_pause, retry = KEY.rate_retry, line = KEY.rate_line, seen = KEY.rate_seen, seq = KEY.rate_seq,
    fair = KEY.rate_fair}
  local p = {interval_us = tonumber(ARG.interval_us), max = tonumber(ARG.max), window_us = tonumber(ARG.window_us),
    margin_us = tonumber(ARG.margin_us), member = ARG.member, hold_us = tonumber(ARG.hold_us),
    priority = tonumber(ARG.priority), lease_us = tonumber(ARG.lease_us), turn = tonumber(ARG.turn)}
  return k, p
end
local record = redis.call('GET', KEY.intent)
local wait = -1
if record then
  local applied_seq = tonumber(redis.call('HGET', KEY.call, 'applied_seq') or '0')
  if resent then
    -- The first run booked only if it marked the run: the record says running, and no newer intent took effect.
    local seq = record_seq(record)
    local _, _, status = record_status(record)
    if ARG.book == '1' and status == 'running' and seq and applied_seq <= seq then
      local k, p = pacer()
      wait = ask(k, now_us(), p)
    end
  else
    local marked = mark_running(KEY.intent, record, applied_seq, ARG.now_iso)
    -- Only a run that is to do the work books a slot (not a finished or superseded intent).
    if marked ~= record and ARG.book == '1' then wait = reserve_slot(pacer()) end
    record = marked
  end
end
return {'ok', record or '', redis.call('HGETALL', KEY.call), wait}

--[[
  Finishes an intent (intent-store.ts): its final record (kept for the retention), its call's line
  and the unfinished index, the dead letters, the transfer counts, the call's new state and the
  release of the call's lock and the intent's leaving its class's turns land together, and the next intent of the call (the new head of its
  line) comes back, so its job can be woken.

  KEYS:
    intent            the intent's record
    pending           the call's line
    unfinished        every unfinished intent
    dead              failed intents, by when they failed
    lock              the call's lock
    fair              the intent's class's turns (accept.lua)
    fair_open         the class's unfinished intents
    call              the call whose state changes (the apply-effect keys, as named there)
    on_hold           calls on hold
    queue_index       known queue names
    queue_activity    queue names by their last change
    old_queue         the queue the call leaves
    old_queue_times   its members by join time
    new_queue         the queue the call joins
    new_queue_times   its members by join time
    events            the event stream
    old_queue_stats   the left queue's stats (queue-events)
    old_queue_outcomes  the left queue's outcomes, for its service level
    new_queue_stats   the joined queue's stats
    counted...        calls whose transfer count goes up by one

  ARGV:
    id                the intent id
    record            the final record (JSON)
    retention         seconds the finished record is kept
    failed            1 when the intent failed (a dead letter), else 0
    now_ms            now, ms
    lock_token        the token of the lock to release ('' to leave it)
    call_ttl          seconds a call's hash lives after its last change
    effect            1 to change the call's state, 0 to leave it
    call_uuid         the call (apply-effect's e, as named there)
    state
    queue
    held_legs
    since
    queue_score
    old_queue_name
    applied_seq
    intent_id
    events_max        the event stream's length
    leave_reason      why the call leaves its queue ('' to say it by its new state)
    event             the intent's event: intent.completed, intent.failed or intent.superseded
    intent_type       the intent's type
    intent_queue      the queue the intent names ('' for none)
    error             its error as JSON ('' for none)

  Returns:
    {'ok', next}      next: the intent now at the head of the call's line, or false
]]
--- @include "apply-effect"

-- A second run of this call (ioredis resent it after a lost reply; redis-script.ts) finds the very
-- record it wrote (a finish's record carries its own finished_at, so no other finish writes the
-- same bytes): it changes nothing, and answers as the first did.
if redis.call('GET', KEY.intent) == ARG.record then
  if ARG.lock_token ~= '' and redis.call('GET', KEY.lock) == ARG.lock_token then redis.call('DEL', KEY.lock) end
  return {'ok', redis.call('ZRANGE', KEY.pending, 0, 0)[1] or false}
end
redis.call('SET', KEY.intent, ARG.record, 'EX', ARG.retention)
redis.call('ZREM', KEY.pending, ARG.id)
redis.call('ZREM', KEY.unfinished, ARG.id)
-- A class with nothing unfinished starts its turns again from 0, so turns stay inside their band.
redis.call('ZREM', KEY.fair_open, ARG.id)
if redis.call('ZCARD', KEY.fair_open) == 0 then redis.call('DEL', KEY.fair) end
if ARG.failed == '1' then redis.call('ZADD', KEY.dead, ARG.now_ms, ARG.id) else redis.call('ZREM', KEY.dead, ARG.id) end
-- Dead letters older than the retention have no record left: the index forgets them too.
redis.call('ZREMRANGEBYSCORE', KEY.dead, '-inf', tonumber(ARG.now_ms) - tonumber(ARG.retention) * 1000)
for _, call in ipairs(KEY.counted) do
  redis.call('HINCRBY', call, 'transfer_count', 1)
  redis.call('EXPIRE', call, ARG.call_ttl)
end
if ARG.effect == '1' then
  apply_effect(KEY, ARG)
end
local finished = {intent_id = ARG.id, intent_type = ARG.intent_type, call_uuid = ARG.call_uuid}
if ARG.intent_queue ~= '' then finished.queue = ARG.intent_queue end
if ARG.error ~= '' then finished.error = cjson.decode(ARG.error) end
emit(KEY.events, ARG.events_max, ARG.event, finished)
if ARG.lock_token ~= '' and redis.call('GET', KEY.lock) == ARG.lock_token then redis.call('DEL', KEY.lock) end
return {'ok', redis.call('ZRANGE', KEY.pending, 0, 0)[1] or false}

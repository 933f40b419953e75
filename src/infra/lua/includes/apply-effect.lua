--[[
  A call's state change, for the scripts that land it atomically with whatever caused it (an
  intent's finish, a dequeued caller, a hangup): the call hash, its queue membership and the
  on-hold set.

  A script that calls it names its inputs as these do, and hands over its KEY and ARG:
  k: call, on_hold, queue_index, queue_activity, old_queue, old_queue_times, new_queue,
     new_queue_times (the keys; old_ and new_ name the queue the call leaves and joins)
  e: call_uuid, state, queue ('' for none), held_legs ('' for none), since (ISO), now_ms,
     queue_score (its place, when it joins a queue), old_queue_name ('' for none), applied_seq
     and intent_id ('' to leave them), call_ttl (seconds the call hash lives)
]]
--- @include "queue-touched"

local function apply_effect(k, e)
  local state, queue, held_legs = e.state, e.queue, e.held_legs
  -- A call that hung up stays ended: an intent whose transfer Plivo accepted just before the hangup
  -- finishes after it, and must not put a caller who is gone back in a queue or on hold.
  if state ~= 'ended' and redis.call('HGET', k.call, 'state') == 'ended' then
    state, queue, held_legs = 'ended', '', ''
  end
  local fields = {'state', state, 'queue', queue, 'held_legs', held_legs, 'since', e.since}
  if e.applied_seq ~= '' then
    fields[#fields + 1] = 'applied_seq'
    fields[#fields + 1] = e.applied_seq
  end
  if e.intent_id ~= '' then
    fields[#fields + 1] = 'last_intent_id'
    fields[#fields + 1] = e.intent_id
  end
  redis.call('HSET', k.call, unpack(fields))
  redis.call('EXPIRE', k.call, e.call_ttl)
  if e.old_queue_name ~= '' and e.old_queue_name ~= queue then
    if redis.call('ZREM', k.old_queue, e.call_uuid) == 1 then
      queue_touched(k.queue_index, k.queue_activity, e.old_queue_name, e.now_ms)
    end
    redis.call('ZREM', k.old_queue_times, e.call_uuid)
  end
  if state == 'queued' and queue ~= '' then
    redis.call('ZADD', k.new_queue, e.queue_score, e.call_uuid)
    redis.call('ZADD', k.new_queue_times, e.now_ms, e.call_uuid)
    queue_touched(k.queue_index, k.queue_activity, queue, e.now_ms)
  end
  -- An unknown outcome keeps the place the caller would have had, for the waiting room's fetch to confirm.
  if state == 'unknown' and queue ~= '' then redis.call('HSET', k.call, 'queue_score', e.queue_score) end
  if state == 'on_hold' then
    redis.call('ZADD', k.on_hold, 'NX', e.now_ms, e.call_uuid)
  else
    redis.call('ZREM', k.on_hold, e.call_uuid)
  end
end

--[[
  A call's state change, for the scripts that land it atomically with whatever caused it (an
  intent's finish, a dequeued caller, a hangup): the call hash, its queue membership, the
  on-hold set, and the events that report the change (queue-events).

  A script that calls it names its inputs as these do, and hands over its KEY and ARG:
  k: call, on_hold, queue_index, queue_activity, old_queue, old_queue_times, new_queue,
     new_queue_times, events, old_queue_stats, old_queue_outcomes, new_queue_stats (the keys;
     old_ and new_ name the queue the call leaves and joins)
  e: call_uuid, state, queue ('' for none), held_legs ('' for none), since (ISO), now_ms,
     queue_score (its place, when it joins a queue), old_queue_name ('' for none), applied_seq
     and intent_id ('' to leave them), call_ttl (seconds the call hash lives), events_max (the
     stream's length), leave_reason (why it leaves its queue; '' to say it by the new state)
  It answers how long the caller had waited in the queue it left (ms), or nil when it left none.
]]
--- @include "queue-touched"
--- @include "queue-events"

local function apply_effect(k, e)
  local state, queue, held_legs = e.state, e.queue, e.held_legs
  local now_ms = tonumber(e.now_ms)
  local old = redis.call('HMGET', k.call, 'state', 'queue', 'queued_ms', 'held_legs')
  local old_state = old[1]
  -- A call that hung up stays ended: an intent whose transfer Plivo accepted just before the hangup
  -- finishes after it, and must not put a caller who is gone back in a queue or on hold.
  if state ~= 'ended' and old_state == 'ended' then
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
  -- The queue the call leaves, as queue-events takes it, under the name its events give it.
  local function old_queue(name)
    return {queue = k.old_queue, queue_times = k.old_queue_times, stats = k.old_queue_stats,
      events = k.events, events_max = e.events_max, name = name}
  end
  local rank = nil
  if e.old_queue_name ~= '' and e.old_queue_name ~= queue then
    rank = redis.call('ZRANK', k.old_queue, e.call_uuid)
    if redis.call('ZREM', k.old_queue, e.call_uuid) == 1 then
      queue_touched(k.queue_index, k.queue_activity, e.old_queue_name, e.now_ms)
    end
    redis.call('ZREM', k.old_queue_times, e.call_uuid)
  end
  -- The caller's time in its queue ends (it was taken, it moved, it hung up): queue.left, once,
  -- before the positions of those behind it move up. A caller who asks to be called back keeps
  -- its time (and place) in the queue.
  local stays = (state == 'queued' or state == 'callback') and queue == old[2]
  local waited = nil
  if old[3] and not stays then
    redis.call('HDEL', k.call, 'queued_ms')
    local reason = e.leave_reason
    if reason == '' then
      if state == 'bridged' then reason = 'bridged' elseif state == 'ended' then reason = 'abandoned' else reason = 'moved' end
    end
    local outcomes = nil
    if old[2] == e.old_queue_name then outcomes = k.old_queue_outcomes end
    waited = math.max(0, now_ms - tonumber(old[3]))
    queue_left(old_queue(old[2]), outcomes, e.call_uuid, reason, tonumber(old[3]), now_ms)
  end
  if rank then announce_positions(old_queue(e.old_queue_name), rank, now_ms) end
  if state == 'queued' and queue ~= '' then
    local new_q = {queue = k.new_queue, queue_times = k.new_queue_times, stats = k.new_queue_stats,
      events = k.events, events_max = e.events_max, name = queue}
    local before = redis.call('ZRANK', k.new_queue, e.call_uuid)
    if before then
      -- Already waiting there, with a new priority: it and those it passes (or who pass it) move.
      redis.call('ZADD', k.new_queue, e.queue_score, e.call_uuid)
      local after = redis.call('ZRANK', k.new_queue, e.call_uuid)
      if after ~= before then announce_positions(new_q, math.min(before, after), now_ms, math.max(before, after)) end
    else
      queue_join(new_q, k.call, e.call_uuid, e.queue_score, now_ms)
    end
    queue_touched(k.queue_index, k.queue_activity, queue, e.now_ms)
  end
  -- An unknown outcome keeps the place the caller would have had, for the waiting room's fetch to confirm.
  if state == 'unknown' and queue ~= '' then redis.call('HSET', k.call, 'queue_score', e.queue_score) end
  if state == 'on_hold' then
    redis.call('ZADD', k.on_hold, 'NX', e.now_ms, e.call_uuid)
  else
    redis.call('ZREM', k.on_hold, e.call_uuid)
  end
  call_events(k.events, e.events_max, e.call_uuid, e.intent_id, old_state, old[4], state, held_legs)
  return waited
end

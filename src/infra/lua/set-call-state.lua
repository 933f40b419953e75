--[[
  Sets a call's state outside its own line of intents (call-state.ts): a dequeued caller
  bridged, a caller who hung up. The same change an intent's finish makes (apply-effect).

  Once: run twice for one call (ioredis resending it after a lost reply), it answers the first
  run's reply and changes nothing more (redis-script.ts).

  KEYS:
    call              the call's hash
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

  ARGV:
    call_uuid         the call (apply-effect's e, as named there)
    state
    queue
    held_legs
    since
    now_ms
    queue_score
    old_queue_name
    applied_seq
    intent_id
    call_ttl
    events_max        the event stream's length
    leave_reason      why the call leaves its queue ('' to say it by its new state)

  Returns:
    {'ok', waited_ms}        done; waited_ms is how long the call had waited in the queue it
                             left, or false when it left none
]]
--- @include "apply-effect"

return {'ok', apply_effect(KEY, ARG) or false}

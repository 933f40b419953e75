--[[
  A dequeue took a callback member and is about to call it back (run-dequeue.ts): the attempt is
  marked dialing, with the dequeue, the agent and the member's place, so the answer (served by
  any API) and the hangup know what to do, even if the worker is gone by then.

  Once: run twice for one call (ioredis resending it after a lost reply), it answers the first
  run's reply and changes nothing more (redis-script.ts).

  KEYS:
    call              the member's hash
    events            the event stream

  ARGV:
    call_uuid         the member
    queue_name        its queue
    intent_id         the dequeue
    agent             the agent's call
    score             the member's place, as it was taken
    joined_ms         when it had joined
    events_max        the event stream's length

  Returns:
    {'ok', attempt, number, fired, fresh}
                                     the attempt: fresh 1 when this run marked it (place the
                                     call); 0 when an earlier run of this dequeue did (fired: 1
                                     if it placed the call): wait for its outcome, never dial twice
    {'absent'}                       the member is no callback now, another dequeue dials it, or
                                     this dequeue's attempt on it is settled (it goes on)
]]
--- @include "queue-events"
--- @include "callbacks"

local h = redis.call('HMGET', KEY.call, 'state', 'cb_state', 'cb_intent', 'cb_attempt', 'cb_number', 'cb_fired')
if h[1] ~= 'callback' then return {'absent'} end
-- One attempt per dequeue and member: a re-run of the dequeue resumes its attempt, or goes on once it is settled.
if h[3] == ARG.intent_id then
  if h[2] == 'dialing' then return {'ok', tonumber(h[4]), h[5], tonumber(h[6] or '0'), 0} end
  return {'absent'}
end
if h[2] == 'dialing' then return {'absent'} end
local attempt = tonumber(h[4] or '0') + 1
redis.call('HSET', KEY.call, 'cb_state', 'dialing', 'cb_attempt', attempt, 'cb_intent', ARG.intent_id,
  'cb_agent', ARG.agent, 'cb_score', ARG.score, 'cb_joined', ARG.joined_ms, 'cb_fired', 0)
callback_event(KEY.events, ARG.events_max, 'callback.dialing', ARG.call_uuid, ARG.queue_name, attempt, h[5],
  {intent_id = ARG.intent_id})
return {'ok', attempt, h[5], 0, 1}

--[[
  Accepts an intent (intent-store.ts), atomically and in one round trip: the client's intent rate,
  the idempotency check, the transfer budget and the queue's size, the call's next sequence number,
  the record, the call's pending line, the unfinished index, the intent's turn in its class and its
  BullMQ job are written in one step nobody sees half done. An accept may also claim a waiting caller (an overflow): the
  caller leaves its queue in the same step, and the accept is refused when it is no longer there,
  so a caller is never out of line without the intent that moves it.

  KEYS:
    intent            the intent's record
    idempotency       the client's Idempotency-Key entry ("<intent id> <body hash>")
    call              the call's hash (seq, transfer_count, queue)
    pending           the call's line of unfinished intents, by sequence number
    unfinished        every unfinished intent, by accept time (the job sweeper reads it)
    queue             the queue an enqueue joins (its size is checked)
    client_rate       the client's count of intents in this second
    claim_queue       the queue the claimed caller waits in
    claim_queue_times  the same queue's members by join time
    queue_index       known queue names
    queue_activity    queue names by their last change
    fair              the class's turns: 'vt' (the turn last started) and 'c:<client>' (the client's last)
    fair_open         the class's unfinished intents
    events            the event stream
    claim_queue_stats  the claimed caller's queue's stats (queue-events)
    claim_queue_outcomes  its outcomes, for its service level
    job...            the nine keys of BullMQ's addPrioritizedJob, in its order

  ARGV:
    id                the intent id (and its job id)
    record            the record as JSON, without its seq: the script puts the call's number first
    body_hash         the canonical body's hash, for replays
    idempotency_ttl   seconds an Idempotency-Key lives
    has_key           1 when the request has an Idempotency-Key, else 0
    call_ttl          seconds the call's hash and line live after their last change
    now_ms            now, ms
    budget            the call's transfer budget
    queue_name        the queue an enqueue joins ('' for other intents)
    queue_max         that queue's max size
    rate_limit        intents per second the client may post (0: no limit)
    job_data          the job's data (JSON)
    claim_call        the caller to claim ('' for none)
    claim_queue_name   the claimed caller's queue ('' for none)
    call_uuid         the call the intent orders (its line)
    client            the client, whose turn it is
    class_index       the intent's class (0 urgent … 3 bulk, domain/intent-class.ts)
    band              priorities per class
    events_max        the event stream's length
    intent_type       the intent's type
    intent_queue      the queue the intent names ('' for none)

  Returns:
    {'created', seq, claimed_since, priority}
                                      stored; claimed_since is when the claimed caller had joined (ms),
                                      or false; priority is its job's (both false when the call ran already)
    {'replayed', entry}               the Idempotency-Key was used before: its "<intent id> <body hash>"
    {'budget_spent'}                  the call has used its transfer budget
    {'queue_full'}                    the queue is at its max size
    {'rate_limited'}                  the client posted more than rate_limit intents this second
    {'not_waiting'}                   the caller to claim is no longer in its queue
]]
--- @include "add-job"
--- @include "queue-touched"
--- @include "queue-events"
--- @include "record-fields"

-- A second run of this call (ioredis resent it after a lost reply; redis-script.ts) finds the
-- record it wrote (ids are new per accept): it changes nothing, and answers it created it.
local stored = redis.call('GET', KEY.intent)
if stored then
  return {'created', record_seq(stored), false, false}
end
local rate_limit = tonumber(ARG.rate_limit)
if rate_limit > 0 then
  local n = redis.call('INCR', KEY.client_rate)
  if n == 1 then redis.call('EXPIRE', KEY.client_rate, 2) end
  if n > rate_limit then return {'rate_limited'} end
end
if ARG.has_key == '1' then
  local existing = redis.call('GET', KEY.idempotency)
  if existing then return {'replayed', existing} end
end
if tonumber(redis.call('HGET', KEY.call, 'transfer_count') or '0') >= tonumber(ARG.budget) then return {'budget_spent'} end
if ARG.queue_name ~= '' and redis.call('HGET', KEY.call, 'queue') ~= ARG.queue_name
    and redis.call('ZCARD', KEY.queue) >= tonumber(ARG.queue_max) then
  return {'queue_full'}
end
local claimed_since = false
if ARG.claim_call ~= '' then
  if not redis.call('ZSCORE', KEY.claim_queue, ARG.claim_call) then return {'not_waiting'} end
  claimed_since = redis.call('ZSCORE', KEY.claim_queue_times, ARG.claim_call)
end
-- The intent's turn in its class: start-time fair queuing. A client's next turn follows its own
-- last, but never starts behind the turn being served, so a client that was idle is served next
-- and clients with a backlog take turns. A class left with nothing unfinished starts again from 0
-- (finish.lua); a turn past the band stays at its end (first come, first served from there).
local band = tonumber(ARG.band)
local client_field = 'c:' .. ARG.client
local turns = redis.call('HMGET', KEY.fair, 'vt', client_field)
local turn = math.max(tonumber(turns[1] or '0'), tonumber(turns[2] or '0')) + 1
if turn > band - 1 then turn = band - 1 end
redis.call('HSET', KEY.fair, client_field, turn)
redis.call('ZADD', KEY.fair_open, ARG.now_ms, ARG.id)
local priority = tonumber(ARG.class_index) * band + turn
-- The job first: Redis keeps a script's writes made before an error, and a job without its
-- record is skipped by the worker, where a record without its job would wait for the sweeper.
add_job(KEY.job, ARG.id, ARG.now_ms, ARG.job_data, priority)
local seq = redis.call('HINCRBY', KEY.call, 'seq', 1)
redis.call('EXPIRE', KEY.call, ARG.call_ttl)
-- The record is a JSON object; its call's number goes first, so the gate can read it (mark-running).
redis.call('SET', KEY.intent, '{"seq":' .. seq .. ',' .. string.sub(ARG.record, 2))
redis.call('ZADD', KEY.pending, seq, ARG.id)
redis.call('EXPIRE', KEY.pending, ARG.call_ttl)
redis.call('ZADD', KEY.unfinished, ARG.now_ms, ARG.id)
if ARG.has_key == '1' then redis.call('SET', KEY.idempotency, ARG.id .. ' ' .. ARG.body_hash, 'EX', ARG.idempotency_ttl) end
local accepted = {intent_id = ARG.id, intent_type = ARG.intent_type, call_uuid = ARG.call_uuid, client = ARG.client}
if ARG.intent_queue ~= '' then accepted.queue = ARG.intent_queue end
emit(KEY.events, ARG.events_max, 'intent.accepted', accepted)
-- The claimed caller leaves its queue last, once its intent is stored: its time there ends now.
if ARG.claim_call ~= '' then
  local now_ms = tonumber(ARG.now_ms)
  local rank = redis.call('ZRANK', KEY.claim_queue, ARG.claim_call)
  redis.call('ZREM', KEY.claim_queue, ARG.claim_call)
  redis.call('ZREM', KEY.claim_queue_times, ARG.claim_call)
  queue_touched(KEY.queue_index, KEY.queue_activity, ARG.claim_queue_name, ARG.now_ms)
  local q = {queue = KEY.claim_queue, queue_times = KEY.claim_queue_times, stats = KEY.claim_queue_stats,
    events = KEY.events, events_max = ARG.events_max, name = ARG.claim_queue_name}
  local joined = tonumber(redis.call('HGET', KEY.call, 'queued_ms') or claimed_since or ARG.now_ms)
  redis.call('HDEL', KEY.call, 'queued_ms')
  queue_left(q, KEY.claim_queue_outcomes, ARG.claim_call, 'overflow', joined, now_ms)
  if rank then announce_positions(q, rank, now_ms) end
end
return {'created', seq, claimed_since, priority}

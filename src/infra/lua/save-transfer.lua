--[[
  Saves an intent's record after one of its transfers reached Plivo, and counts the transfer
  against the call's budget (intent-store.ts), together. A second run of the same call (ioredis
  resent it after a lost reply; redis-script.ts) finds the very record it wrote (its updated_at
  and its list of transfers are this save's) and counts nothing more.

  KEYS:
    intent            the intent's record
    call              the call whose transfer count goes up by one

  ARGV:
    record            the record (JSON)
    call_ttl          seconds a call's hash lives after its last change

  Returns:
    {'ok'}            saved and counted
    {'unchanged'}     this save had run already
]]

if redis.call('GET', KEY.intent) == ARG.record then return {'unchanged'} end
redis.call('SET', KEY.intent, ARG.record)
redis.call('HINCRBY', KEY.call, 'transfer_count', 1)
redis.call('EXPIRE', KEY.call, ARG.call_ttl)
return {'ok'}

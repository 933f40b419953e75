--[[
  A lease one worker holds at a time (reconciler.ts): its holder renews it, anybody takes it once
  it has run out. The holder is named by a token of its own.

  KEYS:
    lease             the lease: the holder's token, expiring

  ARGV:
    token             this worker's token
    ttl_ms            how long the lease lasts unless renewed

  Returns:
    {'renewed'}       this worker held it, and holds it for ttl_ms more
    {'acquired'}      nobody held it; now this worker does
    {'held'}          another worker holds it
]]

if redis.call('GET', KEY.lease) == ARG.token then
  redis.call('PEXPIRE', KEY.lease, ARG.ttl_ms)
  return {'renewed'}
end
if redis.call('SET', KEY.lease, ARG.token, 'NX', 'PX', ARG.ttl_ms) then return {'acquired'} end
return {'held'}

--[[
  Releases a call's lock only if this run's token still holds it: a lapsed lock may belong to
  another run by now (call-state.ts).

  KEYS:
    lock              the call's lock

  ARGV:
    token             this run's lock token

  Returns:
    {'removed'}       the lock was this run's, and is gone
    {'absent'}        the lock is another run's, or none
]]

if redis.call('GET', KEY.lock) == ARG.token then
  redis.call('DEL', KEY.lock)
  return {'removed'}
end
return {'absent'}

--[[
  Call-me-back (SPEC §10), for the scripts that move a callback member. A callback member is a
  call in state `callback`: it keeps its place in its queue (same score, same join time) and is
  also in the queue's callbacks set, scored by when it may next be offered (0: now). Its call hash
  keeps the number (cb_number) until it leaves, the attempts made (cb_attempt), and while a
  dequeue calls it back, cb_state = dialing with the dequeue (cb_intent), the agent (cb_agent) and
  its place to come back to (cb_score, cb_joined).
]]

-- A number as events show it: its last 4 digits.
local function mask_number(number)
  if not number or #number <= 4 then return '***' end
  return '***' .. string.sub(number, -4)
end

-- A callback.* event for `call_uuid` in queue `queue_name`.
local function callback_event(stream, max, type, call_uuid, queue_name, attempt, number, extra)
  local data = {call_uuid = call_uuid, queue = queue_name, attempt = tonumber(attempt), number = mask_number(number)}
  for k, v in pairs(extra or {}) do data[k] = v end
  emit(stream, max, type, data)
end

--[[
  Marks a record's run (status running, one more attempt, updated_at) inside the worker's gate,
  saving the worker a write of its own. It edits the JSON text rather than decoding it
  (record-fields.lua): the first `,"updated_at":"` after the status is the record's own too (only
  the fixed-format created_at lies between). A record that does not match, is finished, or whose
  call has applied a newer intent (applied_seq above its seq: it will be superseded) is returned
  unchanged.
]]
--- @include "record-fields"

local function mark_running(key, record, applied_seq, now_iso)
  local seq = record_seq(record)
  if not seq or applied_seq > seq then return record end
  local s, e, status, attempts = record_status(record)
  if not s or (status ~= 'queued' and status ~= 'running') then return record end
  local us, ue = string.find(record, ',"updated_at":"[^"]*"', e)
  if not us then return record end
  local marked = string.sub(record, 1, s - 1) .. ',"status":"running","attempts":' .. (tonumber(attempts) + 1)
    .. string.sub(record, e, us - 1) .. ',"updated_at":"' .. now_iso .. '"' .. string.sub(record, ue + 1)
  redis.call('SET', key, marked)
  return marked
end

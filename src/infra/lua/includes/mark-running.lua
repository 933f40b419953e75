--[[
  Marks a record's run (status running, one more attempt, updated_at) inside the worker's gate,
  saving the worker a write of its own. It edits the JSON text rather than decoding it: Redis's
  cjson turns an empty array into an object. The edit leans on the record's layout, which the
  accept fixes and every rewrite keeps (JSON.stringify keeps key order, and so does a spread copy):
  {"seq":N,"id":…,"client":…,"status":…,"attempts":N,"created_at":…,"updated_at":…, …
  The first `,"status":"` is the record's own (a string's inner quotes are escaped), and the first
  `,"updated_at":"` after it too (only the fixed-format created_at lies between). A record that
  does not match, is finished, or whose call has applied a newer intent (applied_seq above its
  seq: it will be superseded) is returned unchanged.
]]

local function mark_running(key, record, applied_seq, now_iso)
  local seq = tonumber(string.match(record, '^{"seq":(%d+),'))
  if not seq or applied_seq > seq then return record end
  local s, e, status, attempts = string.find(record, ',"status":"(%a+)","attempts":(%d+),', 1)
  if not s or (status ~= 'queued' and status ~= 'running') then return record end
  local us, ue = string.find(record, ',"updated_at":"[^"]*"', e)
  if not us then return record end
  local marked = string.sub(record, 1, s - 1) .. ',"status":"running","attempts":' .. (tonumber(attempts) + 1)
    .. string.sub(record, e, us - 1) .. ',"updated_at":"' .. now_iso .. '"' .. string.sub(record, ue + 1)
  redis.call('SET', key, marked)
  return marked
end

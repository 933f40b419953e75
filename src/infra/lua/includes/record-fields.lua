--[[
  Reads an intent record's leading fields as JSON text, without decoding it (Redis's cjson turns
  an empty array into an object). It leans on the record's layout, which the accept fixes and
  every rewrite keeps (JSON.stringify keeps key order, and so does a spread copy):
  {"seq":N,"id":…,"client":…,"status":…,"attempts":N,"created_at":…,"updated_at":…, …
  The first `,"status":"` is the record's own (a string's inner quotes are escaped).
]]

-- The call's sequence number the accept put first (nil when the record does not match).
local function record_seq(record)
  return tonumber(string.match(record, '^{"seq":(%d+),'))
end

-- Where the record's status and attempts stand: start, end, status, attempts (nil when no match).
local function record_status(record)
  return string.find(record, ',"status":"(%a+)","attempts":(%d+),', 1)
end

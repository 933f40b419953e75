--[[
  BullMQ's own job insert, for the accept to run in the same script: an intent is stored and its
  job queued in one atomic step (job-insert.ts). The body of bullmq_add_prioritized_job is BullMQ's
  addPrioritizedJob script exactly as the installed bullmq ships it, inserted by the loader; its
  arguments are those Queue.add would give it, so the job is stored exactly as Queue.add stores it
  (test/job-insert.test.ts holds the two equal). Every argument crosses the wire as plain text:
  the script packs them with Redis's cmsgpack (a binary argument would switch the client to a much
  slower way of writing commands).

  job_options: the queue's default job options, normalised by a BullMQ Job and in BullMQ's short
  names (JSON), and job_prefix and job_name (Lua strings): inserted by the loader.
]]

local function bullmq_add_prioritized_job(KEYS, ARGV)
--- @insert bullmq_add_prioritized_job
end

local job_options =
--- @insert job_options
local job_prefix =
--- @insert job_prefix
local job_name =
--- @insert job_name

-- Adds the intent's job under its own id, at a priority (1 to 2^21, lower first); answers the job id.
local function add_job(keys, job_id, timestamp_ms, data, priority)
  local opts = cjson.decode(job_options)
  opts['jobId'] = job_id
  opts['priority'] = priority
  -- BullMQ's arguments: key prefix, job id, name, timestamp (then parent, repeat and deduplication, none here).
  local args = cmsgpack.pack({job_prefix, job_id, job_name, tonumber(timestamp_ms)})
  return bullmq_add_prioritized_job(keys, {args, data, cmsgpack.pack(opts)})
end

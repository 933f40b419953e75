import { createRequire } from 'node:module';
import { Job, optsEncodeMap } from 'bullmq';
import { INTENT_JOB, type IntentJobData, type IntentQueue } from './intent-queue.js';

/**
 * BullMQ's own job insert, for a holdq script to run in the same call: the accept
 * script stores an intent and queues its job in one atomic step, so no client ever
 * sees one without the other (a script failing halfway leaves at most a job without
 * its record, which the worker skips), and the API sends one Redis command per
 * intent instead of two.
 *
 * Nothing of BullMQ's storage is rewritten here. The Lua is BullMQ's addStandardJob
 * script as installed, wrapped as a function, and it gets the arguments `Queue.add`
 * would give it: the queue's default options as BullMQ's own Job normalises them,
 * in BullMQ's short names, and the job id. The script packs them with Redis's
 * cmsgpack, so every argument crosses the wire as plain text (a binary argument
 * switches the client to a much slower way of writing commands).
 * test/job-insert.test.ts checks that a job queued this way is stored exactly like
 * one from `queue.add`, so a BullMQ upgrade that changes the contract fails the
 * tests instead of the jobs; package.json pins bullmq exactly, so that upgrade is a
 * deliberate change that runs them.
 */
export interface JobInsert {
  /** Lua that defines `add_job(keys, job_id, timestamp_ms, data_json)`; it returns the job id. */
  readonly lua: string;
  /** The keys add_job takes, in its order. */
  readonly keys: readonly string[];
  /** The job's data, as add_job takes it. */
  data(data: IntentJobData): string;
}

interface BullScript {
  name: string;
  content: string;
  keys: number;
}

/** BullMQ ships each script as a module; its name carries its key count. */
function addStandardJobScript(): BullScript {
  const require = createRequire(import.meta.url);
  let script: BullScript | undefined;
  try {
    script = (require('bullmq/dist/cjs/scripts/addStandardJob-9.js') as { addStandardJob?: BullScript }).addStandardJob;
  } catch {
    script = undefined;
  }
  if (typeof script?.content !== 'string' || script.keys !== 9) {
    throw new Error('bullmq no longer ships addStandardJob with 9 keys: holdq needs a bullmq 6 whose job insert it knows (see src/infra/job-insert.ts)');
  }
  return script;
}

/** A Lua long string holding `text` verbatim. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}


export function createJobInsert(queue: IntentQueue): JobInsert {
  const script = addStandardJobScript();
  const k = queue.keys;
  const keys = [k.wait, k.paused, k.meta, k.id, k.completed, k.delayed, k.active, k.events, k.marker];
  if (keys.some((key) => typeof key !== 'string') || typeof k[''] !== 'string') throw new Error('bullmq queue keys are not what holdq expects');
  // The queue's default options, normalised by a BullMQ Job (defaults, backoff) and named
  // the way BullMQ stores them, once: per intent only the job id differs.
  const normalised = new Job(queue, INTENT_JOB, {}, { ...queue.defaultJobOptions }).opts as Record<string, unknown>;
  const opts: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(normalised)) {
    if (value !== undefined) opts[(optsEncodeMap as Record<string, string>)[name] ?? name] = value;
  }
  const lua = `local function bullmq_add_standard_job(KEYS, ARGV)
${script.content}
end
local function add_job(keys, job_id, timestamp, data)
  local opts = cjson.decode(${luaString(JSON.stringify(opts))})
  opts['jobId'] = job_id
  -- BullMQ's arguments: key prefix, job id, name, timestamp (then parent, repeat and deduplication, none here).
  local args = cmsgpack.pack({${luaString(k[''])}, job_id, ${luaString(INTENT_JOB)}, tonumber(timestamp)})
  return bullmq_add_standard_job(keys, {args, data, cmsgpack.pack(opts)})
end
`;
  return { lua, keys: keys as string[], data: (data) => JSON.stringify(data) };
}

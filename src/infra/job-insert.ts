import { createRequire } from 'node:module';
import { Job, optsEncodeMap } from 'bullmq';
import { INTENT_JOB, type IntentJobData, type IntentJobs } from './intent-queue.js';
import { luaLongString } from './redis-script.js';

/**
 * BullMQ's own job insert, for a holdq script to run in the same call: the accept
 * script stores an intent and queues its job in one atomic step, so no client ever
 * sees one without the other (a script failing halfway leaves at most a job without
 * its record, which the worker skips), and the API sends one Redis command per
 * intent instead of two.
 *
 * Nothing of BullMQ's storage is rewritten here. The Lua is BullMQ's addPrioritizedJob
 * script as installed (every intent job has a priority: its class and its client's turn,
 * domain/intent-class.ts), inserted into lua/includes/add-job.lua as a function, and it gets the
 * arguments `Queue.add` would give it: the queue's default options as BullMQ's own Job normalises them,
 * in BullMQ's short names, the job id and the priority. The script packs them with Redis's
 * cmsgpack, so every argument crosses the wire as plain text (a binary argument
 * switches the client to a much slower way of writing commands).
 * test/job-insert.test.ts checks that a job queued this way is stored exactly like
 * one from `queue.add`, so a BullMQ upgrade that changes the contract fails the
 * tests instead of the jobs; package.json pins bullmq exactly, so that upgrade is a
 * deliberate change that runs them.
 */
export interface JobInsert {
  /** The texts add-job.lua's inserts take: BullMQ's script, the queue's job options, prefix and job name. */
  readonly inserts: Readonly<Record<string, string>>;
  /** The keys add_job takes, in its order (BullMQ's addPrioritizedJob's nine). */
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
function addPrioritizedJobScript(): BullScript {
  const require = createRequire(import.meta.url);
  let script: BullScript | undefined;
  try {
    script = (require('bullmq/dist/cjs/scripts/addPrioritizedJob-9.js') as { addPrioritizedJob?: BullScript })
      .addPrioritizedJob;
  } catch {
    script = undefined;
  }
  if (typeof script?.content !== 'string' || script.keys !== 9) {
    throw new Error(
      'bullmq no longer ships addPrioritizedJob with 9 keys: holdq needs a bullmq 6 whose job insert it knows (see src/infra/job-insert.ts)',
    );
  }
  return script;
}

export function createJobInsert(queue: IntentJobs): JobInsert {
  const script = addPrioritizedJobScript();
  const k = queue.keys;
  const keys = [k.marker, k.meta, k.id, k.prioritized, k.delayed, k.completed, k.active, k.events, k.pc];
  if (keys.some((key) => typeof key !== 'string') || typeof k[''] !== 'string')
    throw new Error('bullmq queue keys are not what holdq expects');
  // The queue's default options, normalised by a BullMQ Job (defaults, backoff) and named
  // the way BullMQ stores them, once: per intent only the job id differs.
  const normalised = new Job(queue, INTENT_JOB, {}, { ...queue.defaultJobOptions }).opts as Record<string, unknown>;
  const opts: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(normalised)) {
    if (value !== undefined) opts[(optsEncodeMap as Record<string, string>)[name] ?? name] = value;
  }
  return {
    inserts: {
      bullmq_add_prioritized_job: script.content,
      job_options: luaLongString(JSON.stringify(opts)),
      job_prefix: luaLongString(k['']),
      job_name: luaLongString(INTENT_JOB),
    },
    keys: keys as string[],
    data: (data) => JSON.stringify(data),
  };
}

import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { orderingCall, type IntentRecord } from '../domain/intent.js';
import { classFront, recordClass } from '../domain/intent-class.js';

/** The BullMQ queue of intent jobs. Its keys live under QUEUE_PREFIX, beside holdq's own. */
export const INTENT_QUEUE = 'intent-jobs';
export const BACKOFF_TYPE = 'transfer';
/** The two kinds of job in the intent queue: an intent to run, and a queued caller's max-wait timer. */
export const INTENT_JOB = 'intent';
export const OVERFLOW_JOB = 'overflow';

export interface IntentJobData {
  intentId: string;
  /** The call whose line the intent waits in, so the worker reads gate, record and call state in one round trip. */
  callUuid?: string;
}

/** A queued caller's max-wait timer: when it fires and the caller is still waiting, it goes to `overflow`. */
export interface OverflowJobData {
  callUuid: string;
  queue: string;
  /** The enqueue intent that started this wait; a later enqueue makes the timer moot. */
  intentId: string;
  overflow: string;
}

export type JobData = IntentJobData | OverflowJobData;

export type IntentJobs = Queue<JobData>;

export interface IntentJobsOptions {
  prefix: string;
  attempts: number;
  /** The queue's name: INTENT_QUEUE for the default account, its own for another (domain/account.ts). */
  name?: string;
}

export function jobOptions(opts: IntentJobsOptions): JobsOptions {
  return {
    attempts: opts.attempts,
    backoff: { type: BACKOFF_TYPE },
    // The intent record is the source of truth, so finished jobs need not linger:
    // completed ones go at once, failed ones stay a week for the admin UI.
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}

export function createIntentJobs(connection: ConnectionOptions, opts: IntentJobsOptions): IntentJobs {
  return new Queue<JobData>(opts.name ?? INTENT_QUEUE, {
    connection,
    prefix: opts.prefix,
    defaultJobOptions: jobOptions(opts),
  });
}

/**
 * An intent's job, added again (a replay, a retry, a repair: the accept script adds the first).
 * Job ids derive from intent ids, so adding the same intent twice is harmless (BullMQ ignores the
 * duplicate). It goes to the front of its class: it has waited its turn once already.
 */
export function addIntentJob(queue: IntentJobs, record: Pick<IntentRecord, 'id' | 'request' | 'class'>) {
  const data = { intentId: record.id, callUuid: orderingCall(record.request) };
  return queue.add(INTENT_JOB, data, { jobId: record.id, priority: classFront(recordClass(record)) });
}

export function addOverflowTimer(queue: IntentJobs, data: OverflowJobData, delayMs: number) {
  return queue.add(OVERFLOW_JOB, data, { jobId: `overflow-${data.intentId}`, delay: delayMs });
}

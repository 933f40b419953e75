import type { IntentRecord } from '../domain/intent.js';
import { addIntentJob, type IntentJobs } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import { AppError } from './errors.js';

/**
 * Re-runs a failed intent: its record goes back to `queued` in its call's line with its
 * original sequence number, and its job runs again. The one way to retry, whether the
 * request comes from `POST /v1/intents/{id}/retry` or from the admin board, so both leave
 * record and job in the same state. If a newer intent of the call has taken effect since,
 * the re-run ends `superseded` instead of undoing it (the worker's gate sees to that).
 */
export async function retryIntent(
  deps: { store: IntentStore; jobs: IntentJobs },
  record: IntentRecord,
): Promise<IntentRecord> {
  if (record.status !== 'failed') {
    throw new AppError('conflict', `only failed intents can be retried; this one is ${record.status}`, [
      { field: 'status', message: record.status },
    ]);
  }
  const again = await deps.store.requeue(record);
  // The failed job is usually still kept (removeOnFail keeps a week): BullMQ's own retry moves
  // it back to wait with a fresh count of attempts. A job that is gone is added again; one that
  // is waiting or delayed already will run.
  const job = await deps.jobs.getJob(record.id);
  if (!job) await addIntentJob(deps.jobs, record);
  else if (await job.isFailed()) await job.retry('failed');
  return again;
}

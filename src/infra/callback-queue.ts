import { Queue, type ConnectionOptions } from 'bullmq';
import type { IntentRecord } from '../domain/intent.js';

/**
 * The queue of completion callbacks (README, "Completion callbacks"), apart from the intents' own, so a
 * slow or failing receiver never delays or fails an intent.
 */
export const CALLBACK_QUEUE = 'callbacks';
export const CALLBACK_ATTEMPTS = 8;
export const CALLBACK_BACKOFF_MS = 1000;

export interface CallbackJobData {
  intentId: string;
}

/** How often a delivery is tried, and the first retry's delay (doubling after). Tests make both small. */
export interface CallbackRetry {
  attempts?: number;
  backoffMs?: number;
}

export function createCallbackQueue(
  connection: ConnectionOptions,
  prefix: string,
  retry: CallbackRetry = {},
  name = CALLBACK_QUEUE,
): Queue<CallbackJobData> {
  return new Queue<CallbackJobData>(name, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retry.attempts ?? CALLBACK_ATTEMPTS,
      backoff: { type: 'exponential', delay: retry.backoffMs ?? CALLBACK_BACKOFF_MS, jitter: 0.5 },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
}

export async function scheduleCallback(queue: Queue<CallbackJobData>, record: IntentRecord): Promise<void> {
  if (!record.request.callback_url) return;
  await queue.add(
    'deliver',
    { intentId: record.id },
    { jobId: `cb-${record.id}-${Date.parse(record.finished_at ?? '') || Date.now()}` },
  );
}

import { UnrecoverableError } from 'bullmq';
import type { IntentRecord } from '../domain/intent.js';
import type { IntentJobs } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import { fixedFieldLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { secondsSince, type Finish } from './run-context.js';

export interface FinisherDeps {
  store: IntentStore;
  jobs: IntentJobs;
  metrics: Metrics;
  logger: Logger;
  /** Told of every finished intent (completion callbacks); it can never fail the intent. */
  onFinished?: (record: IntentRecord) => Promise<void>;
}

/**
 * Finishes an intent: the record, the call's state, its transfer counts and the lock release land
 * in one script (finish.lua); then the metrics, one log line, the wake-up of the call's next
 * intent and the completion callback. A failed intent fails its job too, without retry, unless
 * told otherwise (a repair finishes an intent whose job has already failed).
 */
export function createFinisher(deps: FinisherDeps): Finish {
  const { store, jobs, metrics } = deps;
  // One line per intent, of fixed fields: no child logger, no redaction walk.
  const finishLine = fixedFieldLogger(deps.logger);
  return async function finish(record, status, log, opts = {}) {
    const { lock, raise = true, ...rest } = opts;
    const release = lock && !lock.released ? { callUuid: lock.callUuid, token: lock.token } : undefined;
    const { record: done, nextIntentId } = await store.finish(record, status, {
      ...rest,
      ...(release ? { release } : {}),
    });
    if (lock) lock.released = true;
    const type = record.request.type;
    metrics.intentsFinished.labels(type, status).inc();
    metrics.intentDuration.labels(type, status).observe(secondsSince(Date.parse(record.created_at)));
    if (opts.from?.state === 'on_hold' && opts.effect && opts.effect.state !== 'on_hold' && opts.from.since) {
      metrics.holdDuration.observe(secondsSince(Date.parse(opts.from.since)));
    }
    finishLine.info({ intentId: record.id, status, error: opts.error, attempts: record.attempts }, 'intent finished');
    // Wake the next intent of this call now instead of when its poll comes round.
    if (nextIntentId) {
      jobs
        .getJob(nextIntentId)
        .then(async (job) => {
          if (job && (await job.isDelayed())) await job.promote();
        })
        .catch(() => undefined);
    }
    deps.onFinished?.(done).catch((err: unknown) => log().warn({ err }, 'completion callback could not be scheduled'));
    if (status === 'failed' && raise) throw new UnrecoverableError(opts.error?.message ?? 'intent failed');
    return status;
  };
}

import { intentInput } from '../domain/intent.js';
import { isUrl } from '../domain/queue-config.js';
import type { CallStore } from '../infra/call-state.js';
import type { OverflowJobData } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { QueueStore } from '../infra/queue-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

export interface OverflowDeps {
  store: IntentStore;
  calls: CallStore;
  queues: QueueStore;
  metrics: Metrics;
  logger: Logger;
}

/**
 * A caller's max wait is over. If it is still waiting from the same enqueue, it
 * leaves the queue (outcome "overflow") and a new intent, accepted like any
 * other, moves it: an `enqueue` to the overflow queue or a `transfer` to the
 * overflow URL. That intent keeps the call's order, budget and retries.
 */
export function createOverflowHandler(deps: OverflowDeps) {
  return async function handleOverflow(data: OverflowJobData): Promise<'moved' | 'skipped'> {
    const call = await deps.calls.get(data.callUuid);
    if (call.state !== 'queued' || call.queue !== data.queue || call.last_intent_id !== data.intentId) return 'skipped';
    const since = await deps.queues.remove(data.queue, data.callUuid);
    if (since === null) return 'skipped'; // a dequeue took it first
    deps.metrics.queueWait.labels(data.queue, 'overflow').observe(Math.max(0, (Date.now() - since) / 1000));
    const request = intentInput.parse(
      isUrl(data.overflow)
        ? { type: 'transfer', call_uuid: data.callUuid, legs: 'aleg', aleg_url: data.overflow }
        : { type: 'enqueue', call_uuid: data.callUuid, queue: data.overflow },
    );
    // The accept queues the new intent's job; the idempotency key makes a re-run of this job harmless.
    await deps.store.accept({ client: 'holdq', request, idempotencyKey: `overflow-${data.intentId}` });
    deps.logger.info({ callUuid: data.callUuid, queue: data.queue, overflow: data.overflow }, 'caller overflowed');
    return 'moved';
  };
}

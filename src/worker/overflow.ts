import { intentInput, isQueueTarget } from '../domain/intent.js';
import type { CallStore } from '../infra/call-state.js';
import type { OverflowJobData } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

export interface OverflowDeps {
  account: { name: string };
  store: IntentStore;
  calls: CallStore;
  metrics: Metrics;
  logger: Logger;
}

/**
 * A caller's max wait is over. If it is still waiting from the same enqueue, it
 * leaves the queue (outcome "overflow") and a new intent, accepted like any
 * other, moves it: an `enqueue` to the overflow queue or a `transfer` to the
 * overflow URL. That intent keeps the call's order, budget and retries.
 * The caller leaves its queue inside the accept (a claim): if the accept fails the
 * caller is still in line and a retry of this job tries again; if the accept is refused
 * the caller stays in line, waiting for an agent.
 */
export function createOverflowHandler(deps: OverflowDeps) {
  return async function handleOverflow(data: OverflowJobData): Promise<'moved' | 'skipped'> {
    const call = await deps.calls.get(data.callUuid);
    if (call.state !== 'queued' || call.queue !== data.queue || call.last_intent_id !== data.intentId) return 'skipped';
    const parsed = intentInput.safeParse(
      isQueueTarget(data.overflow)
        ? { type: 'enqueue', call_uuid: data.callUuid, queue: data.overflow }
        : { type: 'transfer', call_uuid: data.callUuid, legs: 'aleg', aleg_url: data.overflow },
    );
    if (!parsed.success) {
      // Accepts refuse such targets; one stored before they did stays a caller in line, and says so.
      deps.logger.warn(
        { callUuid: data.callUuid, queue: data.queue, overflow: data.overflow, err: parsed.error },
        'overflow target is not valid; the caller stays in its queue',
      );
      return 'skipped';
    }
    const request = parsed.data;
    // The idempotency key makes a re-run of this job after a successful accept harmless.
    const result = await deps.store.accept({
      client: 'holdq',
      request,
      // A caller on the line is moved, whatever the target: never behind a bulk transfer.
      cls: 'queueing',
      idempotencyKey: `overflow-${data.intentId}`,
      claim: { queue: data.queue, callUuid: data.callUuid },
    });
    if (result.kind === 'not_waiting') return 'skipped'; // a dequeue took it first
    if (result.kind === 'replayed') return 'moved'; // an earlier run of this job moved it
    if (result.kind !== 'created') {
      deps.logger.warn(
        { callUuid: data.callUuid, queue: data.queue, overflow: data.overflow, refused: result.kind },
        'caller could not overflow; it stays in its queue',
      );
      return 'skipped';
    }
    const waited = result.claimedSince === undefined ? 0 : (Date.now() - result.claimedSince) / 1000;
    deps.metrics.queueWaitFor(deps.account.name, data.queue, 'overflow').observe(Math.max(0, waited));
    deps.logger.info(
      { callUuid: data.callUuid, queue: data.queue, overflow: data.overflow, intentId: result.record.id },
      'caller overflowed',
    );
    return 'moved';
  };
}

import { isTerminal, orderingCall } from '../domain/intent.js';
import { enqueueIntent, type IntentQueue } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * Defence in depth for "an accepted intent is never lost". Every accepted intent
 * sits in an `unfinished` set until it finishes. Every so often a worker looks at
 * the ones older than a grace period: one that is neither finished nor backed by
 * a BullMQ job (its job was removed by hand, or lost by a Redis that lost writes)
 * gets its job again, under the same id, so it runs exactly as it would have.
 * Several workers may sweep at once: adding a job id that exists is a no-op.
 */
export interface JobSweeperDeps {
  store: IntentStore;
  queue: IntentQueue;
  metrics: Metrics;
  logger: Logger;
  intervalMs?: number;
  graceMs?: number;
}

export function startJobSweeper(deps: JobSweeperDeps) {
  const intervalMs = deps.intervalMs ?? 15_000;
  const graceMs = deps.graceMs ?? 30_000;
  let running: Promise<number> | null = null;

  async function sweep(): Promise<number> {
    let recovered = 0;
    for (const id of await deps.store.unfinishedBefore(Date.now() - graceMs, 500)) {
      const record = await deps.store.get(id);
      if (!record || isTerminal(record.status)) {
        await deps.store.forgetUnfinished(id);
        continue;
      }
      if (await deps.queue.getJob(id)) continue;
      await enqueueIntent(deps.queue, id, orderingCall(record.request));
      recovered++;
      deps.metrics.intentsRecovered.inc();
      deps.logger.warn({ intentId: id, status: record.status, createdAt: record.created_at }, 'recovered an accepted intent whose job was lost');
    }
    return recovered;
  }

  const tick = () => {
    running ??= sweep()
      .catch((err: unknown) => {
        deps.logger.warn({ err: (err as Error).message }, 'job sweep failed; next one will retry');
        return 0;
      })
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    /** One sweep now (tests). */
    sweep,
    /** `wait: false` (Redis away) leaves a sweep in flight to fail on the closed connections: a sweep is idempotent, the next worker's redoes it. */
    async stop(wait = true) {
      clearInterval(timer);
      if (wait) await running;
    },
  };
}

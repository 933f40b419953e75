import type { QueueStore } from '../infra/queue-store.js';
import type { Logger } from '../observability/logger.js';
import { startPeriodic } from './periodic.js';

/**
 * Forgets queues created on demand once they have been empty for QUEUE_IDLE_SECONDS:
 * they leave GET /v1/queues and the metrics, so thousands of one-off queue names do not pile up.
 * Configured queues are never forgotten. Any worker may run it; the script is idempotent.
 */
export const QUEUE_JANITOR_INTERVAL_MS = 60_000;

export function startQueueJanitor(deps: {
  queues: QueueStore;
  idleSeconds: number;
  configured: readonly string[];
  logger: Logger;
  intervalMs?: number;
}) {
  async function tidy(): Promise<number> {
    let total = 0;
    // A bounded batch per script call, so Redis is never held long; a few batches per round.
    for (let i = 0; i < 10; i++) {
      const n = await deps.queues.forgetIdle(deps.idleSeconds * 1000, deps.configured);
      total += n;
      if (n === 0) break;
    }
    if (total > 0) deps.logger.info({ forgotten: total, idleSeconds: deps.idleSeconds }, 'forgot queues left empty');
    return total;
  }
  const rounds = startPeriodic(tidy, {
    intervalMs: deps.intervalMs ?? QUEUE_JANITOR_INTERVAL_MS,
    logger: deps.logger,
    what: 'forgetting idle queues',
  });
  return {
    /** One round now (tests). */
    tidy,
    stop: rounds.stop,
  };
}

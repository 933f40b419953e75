import type { IntentStore } from '../infra/intent-store.js';
import type { Logger } from '../observability/logger.js';
import { startPeriodic } from './periodic.js';
import { REVIVE_GRACE_MS, type Revival } from './intent-repair.js';

/**
 * Defence in depth for "an accepted intent is never lost, and never stuck". Every accepted
 * intent sits in an `unfinished` set until it finishes. Every so often a worker looks at the ones
 * older than a grace period and makes sure each is on its way (`revive`, in process-intent.ts):
 * one whose job is gone gets it back under the same id; one whose job BullMQ failed on its own
 * (stalled too often) without the intent being finished is finished. Several workers may sweep
 * at once: adding a job id that exists is a no-op, and finishing is idempotent.
 */
export interface JobSweeperDeps {
  store: IntentStore;
  revive(id: string, graceMs: number): Promise<Revival>;
  logger: Logger;
  intervalMs?: number;
  graceMs?: number;
}

/** How often a worker sweeps. */
export const SWEEP_INTERVAL_MS = 15_000;

export function startJobSweeper(deps: JobSweeperDeps) {
  const graceMs = deps.graceMs ?? REVIVE_GRACE_MS;

  /** One pass; returns how many intents it put back on their way (a job again, or finished). */
  async function sweep(): Promise<number> {
    let mended = 0;
    for (const id of await deps.store.unfinishedBefore(Date.now() - graceMs, 500)) {
      const outcome = await deps.revive(id, graceMs);
      if (outcome === 'finished') await deps.store.forgetUnfinished(id);
      if (outcome === 'requeued' || outcome === 'repaired') mended++;
    }
    return mended;
  }

  const rounds = startPeriodic(sweep, {
    intervalMs: deps.intervalMs ?? SWEEP_INTERVAL_MS,
    logger: deps.logger,
    what: 'job sweep',
  });
  return {
    /** One sweep now (tests). */
    sweep,
    stop: rounds.stop,
  };
}

import type { Logger } from '../observability/logger.js';

/**
 * Runs `task` every `intervalMs`, never two at once, never failing: a failed round is logged and
 * the next one tries again. For the worker's housekeeping (the sweep of unfinished intents, the
 * forgetting of idle queues), whose rounds are idempotent.
 */
export function startPeriodic(
  task: () => Promise<unknown>,
  opts: { intervalMs: number; logger: Logger; what: string },
) {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    running ??= task()
      .catch((err: unknown) => opts.logger.warn({ err }, `${opts.what} failed; the next round will retry`))
      .finally(() => {
        running = null;
      });
  }, opts.intervalMs);
  timer.unref();
  return {
    /**
     * Stops the rounds. `wait: false` (Redis away) leaves a round in flight to fail on the closed
     * connections: rounds are idempotent, and another worker's redoes it.
     */
    async stop(wait = true) {
      clearInterval(timer);
      if (wait) await running;
    },
  };
}

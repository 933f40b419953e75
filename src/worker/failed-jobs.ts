import type { Job } from 'bullmq';
import type { Logger } from '../observability/logger.js';

/**
 * Runs what must happen when BullMQ fails a job (finish its intent), so that none of it is lost
 * silently: a failure is logged with its stack and tried again with backoff, since the usual cause
 * is a Redis that is failing over (READONLY) or briefly away. What still fails is left to the job
 * sweeper, which finds unfinished intents whose job has failed. Shutdown waits for the handlers
 * under way (`settled`), before the connections they need are closed.
 */
export const FAILED_HANDLER_ATTEMPTS = 5;
export const FAILED_HANDLER_FIRST_DELAY_MS = 200;

export function createFailedJobHandler<T>(
  handle: (job: Job<T> | undefined, err: Error) => Promise<void>,
  logger: Logger,
  opts: { attempts?: number; firstDelayMs?: number } = {},
) {
  const attempts = opts.attempts ?? FAILED_HANDLER_ATTEMPTS;
  const firstDelayMs = opts.firstDelayMs ?? FAILED_HANDLER_FIRST_DELAY_MS;
  const inFlight = new Set<Promise<void>>();

  async function run(job: Job<T> | undefined, err: Error) {
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(job, err);
        return;
      } catch (e) {
        const fields = { err: e, jobId: job?.id, failedReason: err.message, attempt };
        if (attempt >= attempts) {
          logger.error(fields, 'could not finish the intent of a failed job; the job sweeper will');
          return;
        }
        logger.warn(fields, 'could not finish the intent of a failed job; trying again');
        await new Promise((resolve) => setTimeout(resolve, firstDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  return {
    /** For `worker.on('failed', …)`: never throws, never drops a failure silently. */
    onFailed(job: Job<T> | undefined, err: Error) {
      const p = run(job, err);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    /** Resolves when every handler under way has finished (or given up). */
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

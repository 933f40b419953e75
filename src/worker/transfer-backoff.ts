import type { RetryReason } from '../infra/plivo-client.js';

/** Thrown for outcomes worth another attempt; the backoff strategy reads `retryAfterMs`. */
export class RetryableTransferError extends Error {
  constructor(
    message: string,
    readonly reason: RetryReason,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
    this.name = 'RetryableTransferError';
  }
}

/** The longest a retry waits, and the longest a 429's Retry-After pauses the pacer. */
export const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * BullMQ's backoff for intent jobs: exponential from `baseMs` (TRANSFER_BACKOFF_MS), doubling per
 * attempt, with jitter (half to the full step), never shorter than Plivo's Retry-After.
 */
export function transferBackoff(baseMs: number) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const step = Math.min(baseMs * 2 ** Math.max(attemptsMade - 1, 0), MAX_BACKOFF_MS);
    const jittered = step / 2 + Math.random() * (step / 2);
    const retryAfter = err instanceof RetryableTransferError ? Math.min(err.retryAfterMs ?? 0, MAX_BACKOFF_MS) : 0;
    return Math.round(Math.max(jittered, retryAfter));
  };
}

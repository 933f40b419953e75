/**
 * A wait that doubles with each try, from `firstMs` up to `maxMs`: how holdq reconnects to Redis
 * and how a job asks its call's gate again.
 */
export const doublingBackoffMs = (tries: number, firstMs = 50, maxMs = 2000) =>
  Math.min(firstMs * 2 ** Math.min(tries, 16), maxMs);

import { Redis, type RedisOptions } from 'ioredis';

/**
 * Two kinds of Redis connection, as BullMQ's production guide asks:
 * - `command`: for the API and state reads. It fails fast: no offline queue and
 *   one try per command, so a Redis outage is a 503 at once, never a hanging request.
 * - `worker`: `maxRetriesPerRequest: null`, so BullMQ's blocking calls wait out an outage.
 */
export type RedisRole = 'command' | 'worker';

export function createRedis(url: string, role: RedisRole, name = `holdq-${role}`): Redis {
  const options: RedisOptions = {
    connectionName: name,
    // Reconnect for ever, backing off to 2 s: both roles must recover by themselves.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...(role === 'command'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 }
      : { maxRetriesPerRequest: null, enableReadyCheck: true }),
  };
  return new Redis(url, options);
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** Closes a connection politely, and for sure even when Redis is gone. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await Promise.race([redis.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
  } catch {
    // quit fails when the connection is already down; disconnect below is enough
  }
  redis.disconnect();
}

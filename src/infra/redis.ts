import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { doublingBackoffMs } from './backoff.js';

/**
 * Kinds of Redis connection, as BullMQ's production guide asks:
 * - `command`: for the API and state reads. It fails fast: no offline queue and
 *   one try per command, so a Redis outage is a 503 at once, never a hanging request.
 * - `worker`: `maxRetriesPerRequest: null`, so BullMQ's blocking calls wait out an outage.
 * - `state`: the worker's own reads and writes (records, call state, the Plivo pacer).
 *   It waits out outages like `worker`, but BullMQ never touches it, so it can pipeline
 *   automatically, and a MULTI on it stays cheap (ioredis copies every script defined on
 *   a connection, BullMQ's fifty among them, onto each MULTI it makes).
 */
export type RedisRole = 'command' | 'worker' | 'state';

export function createRedis(url: string, role: RedisRole, name = `holdq-${role}`, cluster = false): Redis {
  const options: RedisOptions = {
    connectionName: name,
    // Reconnect for ever, backing off to 2 s: both roles must recover by themselves.
    retryStrategy: (times) => doublingBackoffMs(times),
    ...(role === 'command'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 }
      : { maxRetriesPerRequest: null, enableReadyCheck: true }),
    // The worker's own commands (a record, a call state, a rate slot, issued together) leave in
    // one write instead of one syscall each; order on the connection is kept. Not on the API's
    // connection: an accept is one command, and batching one command only adds a tick of delay
    // and a pipeline per request (measured slower: bench/findings.md). Never on BullMQ's
    // worker connection (reports of jobs losing their lock with it).
    enableAutoPipelining: role === 'state',
  };
  if (!cluster) return new Redis(url, options);
  // A Redis Cluster, discovered from this one node. Cluster offers the same command API
  // as Redis, and BullMQ takes either, so the rest of holdq sees one type. Every key
  // shares the {prefix} hash tag, so multi-key scripts and MULTI stay in one slot.
  const u = new URL(url);
  const { retryStrategy, connectionName: _name, ...redisOptions } = options;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue: role !== 'command',
    enableReadyCheck: true,
    redisOptions: {
      ...redisOptions,
      connectionName: name,
      ...(password ? { password } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  }) as unknown as Redis;
}

/** Start-up gave up waiting for Redis: because it was stopped (`aborted`), or after its timeout. */
export class RedisWaitError extends Error {
  constructor(
    message: string,
    readonly aborted: boolean,
  ) {
    super(message);
    this.name = 'RedisWaitError';
  }
}

/**
 * Resolves once the connection is ready; rejects after `timeoutMs`, or at once when `signal`
 * aborts (a signal during start-up must not wait out the timeout). `describe` names what was
 * waited for in the timeout's message (the URL, the last error, the remedy).
 */
export function waitForRedis(
  redis: Redis,
  opts: { timeoutMs: number; signal?: AbortSignal; describe?: () => string },
): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  if (opts.signal?.aborted) return Promise.reject(new RedisWaitError('start-up stopped while waiting for Redis', true));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onAbort = () => done(new RedisWaitError('start-up stopped while waiting for Redis', true));
    const timer = setTimeout(
      () => done(new RedisWaitError(opts.describe?.() ?? `Redis not ready after ${opts.timeoutMs} ms`, false)),
      opts.timeoutMs,
    );
    redis.once('ready', onReady);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Closes a connection politely, and for sure even when Redis is gone: QUIT only on a ready
 * connection (on one that is reconnecting, QUIT would wait in the offline queue), else at once.
 */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await Promise.race([redis.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
    } catch {
      // quit fails when the connection is already down; disconnect below is enough
    }
  }
  redis.disconnect();
}

/** Errors that mean "Redis is away or not ready yet", as opposed to a bug: the API answers them with 503. */
const UNAVAILABLE =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|Command timed out|max retries per request|^OOM|^LOADING|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN|^READONLY/i;

export function isRedisUnavailable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string } | undefined;
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    UNAVAILABLE.test(`${e?.code ?? ''} ${e?.message ?? ''}`.trim()) ||
    UNAVAILABLE.test(e?.message ?? '')
  );
}

import { isRedisUnavailable } from './redis.js';

/**
 * What a role says while Redis is away. ioredis reconnects every 50 ms to 2 s and every
 * connection, queue and worker of a role reports each failed attempt, so logging each one
 * buried the one thing to do under a screenful of identical lines. Instead: the first
 * failure is one line naming the URL (never its password) and the remedy; after that a
 * line only when the error changes, or a reminder at most every `repeatMs` (with how many
 * were left out); and one line when Redis answers again.
 */
export interface OutageLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RedisOutageLog {
  /** An `error` event of one of the role's ioredis connections: always a connection failure. */
  connectionError(err: Error): void;
  /** An `error` event of a BullMQ queue or worker: a connection failure is counted as one, anything else logged as it is. */
  report(source: string, err: Error): void;
  /** Call on a connection's `ready`: ends an outage, if one was reported. */
  ready(): void;
  /** The message for a start-up that waited `ms` for Redis in vain: the URL, the last error, the remedy. */
  notReady(ms: number): string;
}

/** The URL as it may be logged: a password becomes ***. */
export function redisUrlForLogs(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** What makes two errors the same: their errno code (connect and read ECONNRESET alike), else the message. */
const errorKind = (message: string) => /\b(E[A-Z_]{3,})\b/.exec(message)?.[1] ?? message;
const AUTH_ERROR = /WRONGPASS|NOAUTH|invalid password|invalid username/i;
const remedy = (message: string) =>
  AUTH_ERROR.test(message) ? 'check the user and password in REDIS_URL' : 'start Redis or set REDIS_URL';

export function createRedisOutageLog(
  logger: OutageLogger,
  opts: { url: string; repeatMs?: number; now?: () => number },
): RedisOutageLog {
  const url = redisUrlForLogs(opts.url);
  const repeatMs = opts.repeatMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let down = false;
  let lastMessage: string | null = null;
  // Messages already said in this outage: two connections failing in turn must not alternate lines.
  const said = new Set<string>();
  let lastLoggedAt = 0;
  let leftOut = 0;
  let errors = 0;

  function failed(message: string) {
    errors += 1;
    lastMessage = message;
    if (!down) {
      down = true;
      said.add(errorKind(message));
      lastLoggedAt = now();
      logger.error(
        { redis: url, err: message },
        `cannot reach Redis at ${url} (${message}): ${remedy(message)}; holdq keeps retrying`,
      );
      return;
    }
    if (!said.has(errorKind(message)) || now() - lastLoggedAt >= repeatMs) {
      const more = leftOut > 0 ? `; ${leftOut} more failed attempts since the last line` : '';
      logger.warn(
        { redis: url, err: message },
        `still cannot reach Redis at ${url} (${message})${more}: ${remedy(message)}`,
      );
      said.add(errorKind(message));
      lastLoggedAt = now();
      leftOut = 0;
      return;
    }
    leftOut += 1;
  }

  return {
    connectionError: (err) => failed(err.message),
    report(source, err) {
      if (isRedisUnavailable(err)) failed(err.message);
      else logger.warn({ err, source }, `${source} error`);
    },
    ready() {
      if (!down) return;
      logger.info({ redis: url, failedAttempts: errors }, `Redis at ${url} answers again`);
      down = false;
      lastMessage = null;
      said.clear();
      leftOut = 0;
      errors = 0;
    },
    notReady: (ms) =>
      `Redis at ${url} did not answer within ${Math.round(ms / 1000)} s (${lastMessage ?? 'no connection error reported'}): ${remedy(lastMessage ?? '')}`,
  };
}

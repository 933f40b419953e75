import type { Redis } from 'ioredis';

/**
 * The two Redis settings holdq depends on (README "Redis"): `appendonly yes`, or a restart
 * loses intents that were answered 202; and `maxmemory-policy noeviction`, or Redis may
 * evict records and BullMQ's locks under memory pressure. Read with INFO, which managed
 * Redis services answer even where CONFIG is renamed or refused; a value that cannot be
 * read is unknown, not an error. holdq warns, it does not refuse: a managed service may
 * keep data safe its own way (replicas, snapshots) and report appendonly no.
 */
export interface RedisSettings {
  /** For /readyz, e.g. "appendonly yes" or "appendonly no: a Redis restart loses accepted intents". */
  redis_persistence: string;
  /** For /readyz, e.g. "noeviction" or "allkeys-lru: …". */
  redis_eviction: string;
  /** One line per setting that is wrong, to log once. */
  warnings: string[];
}

function field(info: string, name: string): string | null {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? null;
}

async function info(redis: Redis, section: string, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.info(section),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function read(
  redis: Redis,
  section: string,
  name: string,
  timeoutMs: number,
): Promise<{ value: string } | { unknown: string }> {
  try {
    const value = field(await info(redis, section, timeoutMs), name);
    return value === null ? { unknown: `INFO ${section} has no ${name}` } : { value };
  } catch (err) {
    return { unknown: `INFO ${section}: ${(err as Error).message}` };
  }
}

export async function readRedisSettings(redis: Redis, timeoutMs = 2000): Promise<RedisSettings> {
  const [aof, policy] = await Promise.all([
    read(redis, 'persistence', 'aof_enabled', timeoutMs),
    read(redis, 'memory', 'maxmemory_policy', timeoutMs),
  ]);
  const warnings: string[] = [];
  let persistence: string;
  if ('unknown' in aof) persistence = `unknown (${aof.unknown})`;
  else if (aof.value === '1') persistence = 'appendonly yes';
  else {
    persistence = 'appendonly no: a Redis restart loses accepted intents';
    warnings.push(
      'Redis runs with appendonly no: a Redis restart loses intents holdq accepted; run it with appendonly yes (README "Redis")',
    );
  }
  let eviction: string;
  if ('unknown' in policy) eviction = `unknown (${policy.unknown})`;
  else if (policy.value === 'noeviction') eviction = 'noeviction';
  else {
    eviction = `${policy.value}: Redis may evict holdq's records and BullMQ's locks when memory runs short`;
    warnings.push(
      `Redis runs with maxmemory-policy ${policy.value}: it may evict holdq's records and BullMQ's locks when memory runs short; set maxmemory-policy noeviction (README "Redis")`,
    );
  }
  return { redis_persistence: persistence, redis_eviction: eviction, warnings };
}

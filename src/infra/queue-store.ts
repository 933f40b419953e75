import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { luaScript } from './redis.js';

/**
 * Queue membership in Redis. The score packs the service order into one number:
 * higher priority first, then earlier enqueue. Priorities are -1000..1000 and
 * times are milliseconds since 2025-01-01, so the score stays below 2^53.
 */
const EPOCH_MS = Date.UTC(2025, 0, 1);
const SLOT = 1e12;

export function memberScore(priority: number, enqueuedAtMs: number): number {
  return (1000 - priority) * SLOT + (enqueuedAtMs - EPOCH_MS);
}

export function decodeScore(score: number): { priority: number; enqueuedAt: number } {
  const band = Math.floor(score / SLOT);
  return { priority: 1000 - band, enqueuedAt: score - band * SLOT + EPOCH_MS };
}

/**
 * A queue's membership changed: its name is known (the index lists it) and its activity time moves
 * to now, so a queue left empty is forgotten QUEUE_IDLE_SECONDS after the change that emptied it.
 * For every script that adds or removes members.
 */
export const QUEUE_TOUCHED_FUNCTION = `
local function queue_touched(index, activity, name, now)
  redis.call('ZADD', index, 0, name)
  redis.call('ZADD', activity, now, name)
end
`;

/**
 * Takes one member atomically: the named one, or the first in line. Two takers never get the same caller.
 * KEYS: queue, queue times, index, activity. ARGV: call uuid (or ''), queue name, now ms.
 */
const TAKE = luaScript(`${QUEUE_TOUCHED_FUNCTION}
local uuid, score
if ARGV[1] ~= '' then
  score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not score then return false end
  uuid = ARGV[1]
  redis.call('ZREM', KEYS[1], uuid)
else
  local head = redis.call('ZPOPMIN', KEYS[1])
  if #head == 0 then return false end
  uuid, score = head[1], head[2]
end
redis.call('ZREM', KEYS[2], uuid)
queue_touched(KEYS[3], KEYS[4], ARGV[2], ARGV[3])
return {uuid, score}
`);

/** A taken member back in its place. KEYS as TAKE's. ARGV: call uuid, queue name, now ms, score, enqueued at ms. */
const PUT_BACK = luaScript(`${QUEUE_TOUCHED_FUNCTION}
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
queue_touched(KEYS[3], KEYS[4], ARGV[2], ARGV[3])
return 1
`);

/** Removes a member; answers when it had joined, or false. KEYS as TAKE's. ARGV: call uuid, queue name, now ms. */
const REMOVE = luaScript(`${QUEUE_TOUCHED_FUNCTION}
local since = redis.call('ZSCORE', KEYS[2], ARGV[1])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('ZREM', KEYS[2], ARGV[1])
queue_touched(KEYS[3], KEYS[4], ARGV[2], ARGV[3])
return since or false
`);

/**
 * Forgets queues that have been empty since before ARGV[1] (ms), at most ARGV[2] of them, except
 * the configured ones (ARGV[5..]). KEYS: index, activity. ARGV[3]: the prefix of queue keys; ARGV[4]: now ms.
 * A queue's keys are built from its name here, as BullMQ's scripts build job keys: they share the
 * prefix's hash tag, so on Redis Cluster they are in the script's slot.
 */
const FORGET_IDLE = luaScript(`
local keep = {}
for i = 5, #ARGV do keep[ARGV[i]] = true end
local forgotten = 0
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  local members = ARGV[3] .. name
  if keep[name] then
    redis.call('ZREM', KEYS[2], name)
  elseif redis.call('ZCARD', members) == 0 then
    redis.call('ZREM', KEYS[1], name)
    redis.call('ZREM', KEYS[2], name)
    redis.call('DEL', members, members .. ':since')
    forgotten = forgotten + 1
  else
    -- Callers wait there still: look again an idle period from now.
    redis.call('ZADD', KEYS[2], ARGV[4], name)
  end
end
return forgotten
`);

/** Every known queue with members: name, depth, oldest join (ms). KEYS: index. ARGV: the prefix of queue keys. */
const DEPTHS = luaScript(`
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local n = redis.call('ZCARD', ARGV[1] .. name)
  if n > 0 then
    local oldest = redis.call('ZRANGE', ARGV[1] .. name .. ':since', 0, 0, 'WITHSCORES')[2] or '0'
    out[#out + 1] = name
    out[#out + 1] = n
    out[#out + 1] = oldest
  end
end
return out
`);

/** The plain set of names of older versions becomes the index, once. KEYS: legacy set, index, activity. ARGV: now ms. */
const MIGRATE = luaScript(`
if redis.call('TYPE', KEYS[1]).ok ~= 'set' then return 0 end
local names = redis.call('SMEMBERS', KEYS[1])
for _, name in ipairs(names) do
  redis.call('ZADD', KEYS[2], 0, name)
  redis.call('ZADD', KEYS[3], 'NX', ARGV[1], name)
end
redis.call('DEL', KEYS[1])
return #names
`);

export interface QueueMember {
  call_uuid: string;
  position: number;
  wait_seconds: number;
  priority: number;
}

export interface TakenMember {
  call_uuid: string;
  score: number;
  enqueued_at: number;
}

export interface QueueDepth {
  name: string;
  waiting: number;
  oldest_wait_seconds: number;
}

export interface QueueStore {
  size(name: string): Promise<number>;
  position(name: string, callUuid: string): Promise<number | null>;
  members(name: string, limit?: number): Promise<QueueMember[]>;
  /** Whether holdq knows the queue (it has had a member and has not been forgotten). O(1). */
  known(name: string): Promise<boolean>;
  /** The same for several names, in one command. */
  knownMany(names: readonly string[]): Promise<boolean[]>;
  /** Known queue names after `after` (exclusive), in name order, at most `limit`. */
  names(after: string | null, limit: number): Promise<string[]>;
  /** Depth and oldest wait of the named queues, in one round trip. */
  depths(names: readonly string[]): Promise<QueueDepth[]>;
  /** Every known queue that has callers (for metrics): one script, one pass over the index. */
  busy(): Promise<QueueDepth[]>;
  take(name: string, callUuid?: string): Promise<TakenMember | null>;
  putBack(name: string, member: TakenMember): Promise<void>;
  /** Removes a call from a queue; returns when it had joined, or null if it was not there. */
  remove(name: string, callUuid: string): Promise<number | null>;
  /** Forgets queues empty for `idleMs`, except `keep`; returns how many. */
  forgetIdle(idleMs: number, keep: readonly string[], batch?: number): Promise<number>;
  /** Moves the queue names of an older holdq into the index (once; later calls do nothing). */
  migrate(): Promise<number>;
}

export function createQueueStore(redis: Redis, keys: Keys): QueueStore {
  const memberKeys = (name: string) => [keys.queue(name), keys.queueTimes(name), keys.queueIndex(), keys.queueActivity()];
  const queuePrefix = keys.queue('');
  const depthOf = (name: string, waiting: number, oldestMs: number, now: number): QueueDepth => ({
    name,
    waiting,
    oldest_wait_seconds: waiting > 0 && oldestMs > 0 ? Math.max(0, (now - oldestMs) / 1000) : 0,
  });
  return {
    size: (name) => redis.zcard(keys.queue(name)),
    async position(name, callUuid) {
      const rank = await redis.zrank(keys.queue(name), callUuid);
      return rank === null ? null : rank + 1;
    },
    async members(name, limit = 1000) {
      const flat = await redis.zrange(keys.queue(name), 0, limit - 1, 'WITHSCORES');
      const now = Date.now();
      const out: QueueMember[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const { priority, enqueuedAt } = decodeScore(Number(flat[i + 1]));
        out.push({ call_uuid: flat[i]!, position: i / 2 + 1, wait_seconds: Math.max(0, (now - enqueuedAt) / 1000), priority });
      }
      return out;
    },
    async known(name) {
      return (await redis.zscore(keys.queueIndex(), name)) !== null;
    },
    async knownMany(names) {
      if (names.length === 0) return [];
      const scores = await redis.zmscore(keys.queueIndex(), ...names);
      return scores.map((x) => x !== null);
    },
    names: (after, limit) => redis.zrangebylex(keys.queueIndex(), after === null ? '-' : `(${after}`, '+', 'LIMIT', 0, limit),
    async depths(names) {
      if (names.length === 0) return [];
      const tx = redis.multi();
      for (const name of names) tx.zcard(keys.queue(name)).zrange(keys.queueTimes(name), 0, 0, 'WITHSCORES');
      const results = (await tx.exec()) ?? [];
      const now = Date.now();
      return names.map((name, i) => {
        const oldest = (results[2 * i + 1]?.[1] as string[] | undefined)?.[1];
        return depthOf(name, Number(results[2 * i]?.[1] ?? 0), Number(oldest ?? 0), now);
      });
    },
    async busy() {
      const flat = (await DEPTHS(redis, 1, keys.queueIndex(), queuePrefix)) as (string | number)[];
      const now = Date.now();
      const out: QueueDepth[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) out.push(depthOf(String(flat[i]), Number(flat[i + 1]), Number(flat[i + 2]), now));
      return out;
    },
    async take(name, callUuid) {
      const taken = (await TAKE(redis, 4, ...memberKeys(name), callUuid ?? '', name, Date.now())) as [string, string] | null;
      if (!taken) return null;
      const score = Number(taken[1]);
      return { call_uuid: taken[0], score, enqueued_at: decodeScore(score).enqueuedAt };
    },
    async putBack(name, member) {
      await PUT_BACK(redis, 4, ...memberKeys(name), member.call_uuid, name, Date.now(), member.score, member.enqueued_at);
    },
    async remove(name, callUuid) {
      const since = (await REMOVE(redis, 4, ...memberKeys(name), callUuid, name, Date.now())) as string | null;
      return since === null ? null : Number(since);
    },
    async forgetIdle(idleMs, keep, batch = 200) {
      const now = Date.now();
      return Number(await FORGET_IDLE(redis, 2, keys.queueIndex(), keys.queueActivity(), now - idleMs, batch, queuePrefix, now, ...keep));
    },
    async migrate() {
      return Number(await MIGRATE(redis, 3, keys.legacyQueues(), keys.queueIndex(), keys.queueActivity(), Date.now()));
    },
  };
}

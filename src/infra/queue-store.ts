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

/** Takes one member atomically: the named one, or the first in line. Two takers never get the same caller. */
const TAKE = luaScript(`
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
return {uuid, score}
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

export interface QueueStore {
  size(name: string): Promise<number>;
  position(name: string, callUuid: string): Promise<number | null>;
  members(name: string, limit?: number): Promise<QueueMember[]>;
  /** Every known queue with its depth and oldest wait. */
  summary(): Promise<{ name: string; waiting: number; oldest_wait_seconds: number }[]>;
  take(name: string, callUuid?: string): Promise<TakenMember | null>;
  putBack(name: string, member: TakenMember): Promise<void>;
  /** Removes a call from a queue; returns when it had joined, or null if it was not there. */
  remove(name: string, callUuid: string): Promise<number | null>;
}

export function createQueueStore(redis: Redis, keys: Keys): QueueStore {
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
    async summary() {
      const names = (await redis.smembers(keys.queues())).sort();
      const tx = redis.multi();
      for (const name of names) tx.zcard(keys.queue(name)).zrange(keys.queueTimes(name), 0, 0, 'WITHSCORES');
      const results = (await tx.exec()) ?? [];
      const now = Date.now();
      return names.map((name, i) => {
        const waiting = Number(results[2 * i]?.[1] ?? 0);
        const oldest = (results[2 * i + 1]?.[1] as string[] | undefined)?.[1];
        return { name, waiting, oldest_wait_seconds: oldest ? Math.max(0, (now - Number(oldest)) / 1000) : 0 };
      });
    },
    async take(name, callUuid) {
      const taken = (await TAKE(redis, 2, keys.queue(name), keys.queueTimes(name), callUuid ?? '')) as [string, string] | null;
      if (!taken) return null;
      const score = Number(taken[1]);
      return { call_uuid: taken[0], score, enqueued_at: decodeScore(score).enqueuedAt };
    },
    async putBack(name, member) {
      await redis
        .multi()
        .zadd(keys.queue(name), member.score, member.call_uuid)
        .zadd(keys.queueTimes(name), member.enqueued_at, member.call_uuid)
        .exec();
    },
    async remove(name, callUuid) {
      const [[, since], [, removed]] = (await redis
        .multi()
        .zscore(keys.queueTimes(name), callUuid)
        .zrem(keys.queue(name), callUuid)
        .zrem(keys.queueTimes(name), callUuid)
        .exec()) as [[null, string | null], [null, number], [null, number]];
      return removed ? Number(since) : null;
    },
  };
}

import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { QUEUE_DEPTHS, QUEUE_FORGET_IDLE, QUEUE_MIGRATE, QUEUE_PUT_BACK, QUEUE_STATS, QUEUE_TAKE } from './scripts.js';

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

export interface QueueMember {
  call_uuid: string;
  position: number;
  wait_seconds: number;
  priority: number;
  /** A callback member (SPEC §10): it left the line and keeps this place. */
  callback: boolean;
}

export interface TakenMember {
  call_uuid: string;
  score: number;
  enqueued_at: number;
  /** A callback member: the dequeue calls it back (run-dequeue.ts). Absent on records from before callbacks. */
  callback?: boolean;
}

export interface QueueDepth {
  name: string;
  waiting: number;
  oldest_wait_seconds: number;
}

/** SPEC §9: answered within the threshold, of those answered, over the window. */
export interface ServiceLevel {
  threshold_seconds: number;
  answered_within: number;
  answered: number;
  /** answered_within / answered; null when nobody was answered in the window. */
  ratio: number | null;
}

/** What a queue's past says (lua/queue-stats.lua): estimates, service level, abandonment. */
export interface QueueStats {
  /** For a caller of priority 0 joining now; null while the queue has too little history. */
  estimated_wait_seconds: number | null;
  service_level: ServiceLevel;
  /** Abandoned, of the callers who left by being answered, abandoning or overflowing; null for none. */
  abandoned_ratio: number | null;
  abandoned: number;
  /** The first `limit` members' estimates, and `member`'s, by call. */
  members: Map<string, number | null>;
}

/** The service level's window (STATS_WINDOW_SECONDS) and a queue's threshold (its service_level_seconds). */
export interface StatsWindow {
  windowSeconds: number;
  thresholdSeconds: number;
}

export interface QueueStoreOptions {
  /** The window and threshold a queue's service level is counted over (config and QUEUES). */
  statsWindow(name: string): StatsWindow;
}

export interface QueueStore {
  /**
   * Estimates and service level of a queue, with the estimates of its first `limit` members and of
   * `member`. `outcomes: false` skips the window's outcomes (service level and abandonment then read 0)
   * for a reader that wants only estimates.
   */
  stats(name: string, opts?: { limit?: number; member?: string; outcomes?: boolean }): Promise<QueueStats>;
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
  /** Members of a queue who joined before `beforeMs`, the longest waiting first, at most `limit`. */
  waitingSince(name: string, beforeMs: number, limit: number): Promise<string[]>;
  /** Forgets queues empty for `idleMs`, except `keep`; returns how many. */
  forgetIdle(idleMs: number, keep: readonly string[], batch?: number): Promise<number>;
  /** Moves the queue names of an older holdq into the index (once; later calls do nothing). */
  migrate(): Promise<number>;
}

export function createQueueStore(redis: Redis, keys: Keys, opts: QueueStoreOptions): QueueStore {
  const memberKeys = (name: string) => ({
    queue: keys.queue(name),
    queue_times: keys.queueTimes(name),
    queue_index: keys.queueIndex(),
    queue_activity: keys.queueActivity(),
    stats: keys.queueStats(name),
    events: keys.events(),
  });
  const queuePrefix = keys.queue('');
  const depthOf = (name: string, waiting: number, oldestMs: number, now: number): QueueDepth => ({
    name,
    waiting,
    oldest_wait_seconds: waiting > 0 && oldestMs > 0 ? Math.max(0, (now - oldestMs) / 1000) : 0,
  });
  return {
    async stats(name, { limit = 0, member = '', outcomes = true } = {}) {
      const now = Date.now();
      const window = opts.statsWindow(name);
      const reply = await QUEUE_STATS.run(
        redis,
        { queue: keys.queue(name), stats: keys.queueStats(name), outcomes: keys.queueOutcomes(name) },
        {
          now_ms: now,
          limit,
          join_score: memberScore(0, now),
          // +inf: no outcome is that recent, so none is read.
          since_ms: outcomes ? now - window.windowSeconds * 1000 : '+inf',
          threshold_ms: window.thresholdSeconds * 1000,
          member,
        },
      );
      const v = reply.values as (string | number | null | false)[];
      const estimate = (x: unknown) => (x === null || x === false || x === undefined ? null : Number(x));
      const [answered, within, abandoned, overflowed] = [v[1], v[2], v[3], v[4]].map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const members = new Map<string, number | null>();
      for (let i = 6; i + 2 < v.length; i += 3) members.set(String(v[i]), estimate(v[i + 2]));
      if (member) members.set(member, estimate(v[5]));
      const left = answered + abandoned + overflowed;
      return {
        estimated_wait_seconds: estimate(v[0]),
        service_level: {
          threshold_seconds: window.thresholdSeconds,
          answered_within: within,
          answered,
          ratio: answered > 0 ? within / answered : null,
        },
        abandoned_ratio: left > 0 ? abandoned / left : null,
        abandoned,
        members,
      };
    },
    size: (name) => redis.zcard(keys.queue(name)),
    async position(name, callUuid) {
      const rank = await redis.zrank(keys.queue(name), callUuid);
      return rank === null ? null : rank + 1;
    },
    async members(name, limit = 1000) {
      const flat = await redis.zrange(keys.queue(name), 0, limit - 1, 'WITHSCORES');
      const uuids = flat.filter((_, i) => i % 2 === 0);
      const callbacks = uuids.length > 0 ? await redis.zmscore(keys.queueCallbacks(name), ...uuids) : [];
      const now = Date.now();
      const out: QueueMember[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const { priority, enqueuedAt } = decodeScore(Number(flat[i + 1]));
        out.push({
          call_uuid: flat[i]!,
          position: i / 2 + 1,
          wait_seconds: Math.max(0, (now - enqueuedAt) / 1000),
          priority,
          callback: callbacks[i / 2] !== null,
        });
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
    names: (after, limit) =>
      redis.zrangebylex(keys.queueIndex(), after === null ? '-' : `(${after}`, '+', 'LIMIT', 0, limit),
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
      const flat = (await QUEUE_DEPTHS.run(redis, { queue_index: keys.queueIndex() }, { queue_prefix: queuePrefix }))
        .values as (string | number)[];
      const now = Date.now();
      const out: QueueDepth[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3)
        out.push(depthOf(String(flat[i]), Number(flat[i + 1]), Number(flat[i + 2]), now));
      return out;
    },
    async take(name, callUuid) {
      const reply = await QUEUE_TAKE.run(
        redis,
        { ...memberKeys(name), callbacks: keys.queueCallbacks(name) },
        {
          call_uuid: callUuid ?? '',
          queue_name: name,
          now_ms: Date.now(),
          events_max: keys.eventsMax,
        },
      );
      if (reply.status === 'empty') return null;
      const [uuid, score, callback] = reply.values as [string, string, number];
      return {
        call_uuid: uuid,
        score: Number(score),
        enqueued_at: decodeScore(Number(score)).enqueuedAt,
        ...(callback === 1 ? { callback: true } : {}),
      };
    },
    async putBack(name, member) {
      await QUEUE_PUT_BACK.run(redis, memberKeys(name), {
        call_uuid: member.call_uuid,
        queue_name: name,
        now_ms: Date.now(),
        events_max: keys.eventsMax,
        score: member.score,
        joined_ms: member.enqueued_at,
      });
    },
    waitingSince: (name, beforeMs, limit) =>
      redis.zrangebyscore(keys.queueTimes(name), '-inf', beforeMs, 'LIMIT', 0, limit),
    async forgetIdle(idleMs, keep, batch = 200) {
      const now = Date.now();
      const reply = await QUEUE_FORGET_IDLE.run(
        redis,
        { queue_index: keys.queueIndex(), queue_activity: keys.queueActivity() },
        { before_ms: now - idleMs, batch, queue_prefix: queuePrefix, now_ms: now, rest: keep },
      );
      return Number(reply.values[0]);
    },
    async migrate() {
      const reply = await QUEUE_MIGRATE.run(
        redis,
        { legacy: keys.legacyQueues(), queue_index: keys.queueIndex(), queue_activity: keys.queueActivity() },
        { now_ms: Date.now() },
      );
      return Number(reply.values[0]);
    },
  };
}

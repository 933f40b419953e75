import type { Redis } from 'ioredis';
import { LEGS, type Legs } from '../domain/intent.js';
import type { Keys } from './keys.js';

/** A call on hold, as the listing shows it. */
export interface HeldCall {
  call_uuid: string;
  /** When the hold began (ISO). */
  since: string;
  held_legs: Legs | null;
  last_intent_id: string | null;
}

export interface HeldCallPage {
  items: HeldCall[];
  /** Pass back as `after` for the next page; null on the last. */
  next: string | null;
}

export interface HeldCalls {
  /** Calls on hold, longest held first, `limit` at most, after the cursor a previous page gave. */
  page(after: string | null, limit: number): Promise<HeldCallPage>;
}

/** A page cursor: the last call's hold start (ms, the sorted set's score) and its UUID. */
export const HELD_CURSOR = /^(\d{1,15})\.([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/;

/**
 * Reads the account's on-hold sorted set (keys.onHold(): call UUIDs scored by when the hold
 * began), the calls' own hashes beside it. Pages by score then UUID, the order Redis keeps, so a
 * call put on hold between two pages is neither skipped nor shown twice. A call whose hash no
 * longer says on_hold (taken off hold between the two reads) is left out of its page.
 */
export function createHeldCalls(redis: Redis, keys: Keys): HeldCalls {
  const set = keys.onHold();
  return {
    async page(after, limit) {
      const cursor = after ? HELD_CURSOR.exec(after) : null;
      let entries: string[];
      if (cursor) {
        const [, score, uuid] = cursor as unknown as [string, string, string];
        // Calls that began their hold in the same millisecond as the cursor's, then every later one.
        const [same, later] = (await redis
          .multi()
          .zrangebyscore(set, score, score, 'WITHSCORES')
          .zrangebyscore(set, `(${score}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
          .exec()) as [[Error | null, string[]], [Error | null, string[]]];
        if (same[0] || later[0]) throw same[0] ?? later[0];
        const tied: string[] = [];
        for (let i = 0; i + 1 < same[1].length; i += 2) if (same[1][i]! > uuid) tied.push(same[1][i]!, same[1][i + 1]!);
        entries = [...tied, ...later[1]];
      } else {
        entries = await redis.zrangebyscore(set, '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1);
      }
      const members: { uuid: string; score: string }[] = [];
      for (let i = 0; i + 1 < entries.length && members.length < limit + 1; i += 2)
        members.push({ uuid: entries[i]!, score: entries[i + 1]! });
      const shown = members.slice(0, limit);
      const pipeline = redis.pipeline();
      for (const m of shown) pipeline.hmget(keys.call(m.uuid), 'state', 'since', 'held_legs', 'last_intent_id');
      const hashes = shown.length > 0 ? ((await pipeline.exec()) ?? []) : [];
      const items: HeldCall[] = [];
      shown.forEach((m, i) => {
        const [err, fields] = hashes[i] as [Error | null, (string | null)[]];
        if (err) throw err;
        const [state, since, legs, lastIntent] = fields;
        if (state !== 'on_hold') return;
        items.push({
          call_uuid: m.uuid,
          since: since || new Date(Number(m.score)).toISOString(),
          held_legs: legs && (LEGS as readonly string[]).includes(legs) ? (legs as Legs) : null,
          last_intent_id: lastIntent || null,
        });
      });
      const last = shown.at(-1);
      return { items, next: members.length > limit && last ? `${last.score}.${last.uuid}` : null };
    },
  };
}

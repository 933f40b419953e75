import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { orderingCall, type IntentError, type IntentInput, type IntentRecord, type TerminalStatus } from '../domain/intent.js';
import type { CallEffect, CallState } from '../domain/call.js';
import { APPLY_EFFECT_FUNCTION, effectInputs } from './call-effects.js';
import { QUEUE_TOUCHED_FUNCTION } from './queue-store.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import type { JobInsert } from './job-insert.js';
import { luaScript } from './redis.js';

/**
 * Accepting an intent is one Lua script, so it is atomic and one round trip: the
 * per-client rate, the idempotency check, the transfer budget and queue size, the
 * per-call sequence number, the record, the call's pending list and the intent's
 * BullMQ job (BullMQ's own insert, see job-insert.ts) are written in one step nobody sees half done.
 * An accept may also claim a waiting caller (ARGV[13]): it takes the caller out of its queue in
 * the same step, and is refused when the caller is no longer there; so the caller is never out of
 * line without the intent that moves it.
 * KEYS: intent, idempotency, call, pending, unfinished, queue, client rate, claimed queue and its
 * times, queue index, queue activity, then add_job's.
 * ARGV: id, record, body hash, idempotency ttl, has key (1/0), call ttl, now ms, budget,
 * queue name, queue max size, per-second limit, the job's data, the claimed caller (or ''),
 * the claimed caller's queue (or '').
 */
function acceptScript(jobs: JobInsert) {
  const jobKeys = `{unpack(KEYS, 12, ${11 + jobs.keys.length})}`;
  return luaScript(`${jobs.lua}
${QUEUE_TOUCHED_FUNCTION}
if tonumber(ARGV[11]) > 0 then
  local n = redis.call('INCR', KEYS[7])
  if n == 1 then redis.call('EXPIRE', KEYS[7], 2) end
  if n > tonumber(ARGV[11]) then return {4, 'rate'} end
end
if ARGV[5] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
end
if tonumber(redis.call('HGET', KEYS[3], 'transfer_count') or '0') >= tonumber(ARGV[8]) then return {2, 'budget'} end
if ARGV[9] ~= '' and redis.call('HGET', KEYS[3], 'queue') ~= ARGV[9] and redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[10]) then
  return {3, 'queue_full'}
end
local since = false
if ARGV[13] ~= '' then
  if not redis.call('ZSCORE', KEYS[8], ARGV[13]) then return {5, 'not_waiting'} end
  since = redis.call('ZSCORE', KEYS[9], ARGV[13])
end
-- The job first: Redis keeps a script's writes made before an error, and a job without its
-- record is skipped by the worker, where a record without its job would wait for the sweeper.
add_job(${jobKeys}, ARGV[1], ARGV[7], ARGV[12])
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('EXPIRE', KEYS[3], ARGV[6])
-- The record comes as {"seq":0,… (eight characters before its first comma): the call's number goes in.
redis.call('SET', KEYS[1], '{"seq":' .. seq .. string.sub(ARGV[2], 9))
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
if ARGV[5] == '1' then redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[3], 'EX', ARGV[4]) end
-- The claimed caller leaves its queue last, once its intent is stored.
if ARGV[13] ~= '' then
  redis.call('ZREM', KEYS[8], ARGV[13])
  redis.call('ZREM', KEYS[9], ARGV[13])
  queue_touched(KEYS[10], KEYS[11], ARGV[14], ARGV[7])
end
return {1, seq, since}
`);
}

/**
 * Marks a record's run inside another script (the worker's gate, call-state.ts), saving the
 * worker a write of its own. It edits the JSON text rather than decoding it: Redis's cjson
 * turns an empty array into an object. The edit leans on the record's layout, which
 * `accept` fixes and every rewrite keeps (JSON.stringify keeps key order, and so does a
 * spread copy): {"seq":N,"id":…,"client":…,"status":…,"attempts":N,"created_at":…,"updated_at":…, …
 * The first `,"status":"` is the record's own (a string's inner quotes are escaped), and the
 * first `,"updated_at":"` after it too (only the fixed-format created_at lies between).
 * A record that does not match, is finished, or whose call has applied a newer intent
 * (`applied_seq` above its seq: it will be superseded) is returned unchanged.
 */
export const MARK_RUNNING_FUNCTION = `
local function mark_running(key, record, applied_seq, now_iso)
  local seq = tonumber(string.match(record, '^{"seq":(%d+),'))
  if not seq or applied_seq > seq then return record end
  local s, e, status, attempts = string.find(record, ',"status":"(%a+)","attempts":(%d+),', 1)
  if not s or (status ~= 'queued' and status ~= 'running') then return record end
  local us, ue = string.find(record, ',"updated_at":"[^"]*"', e)
  if not us then return record end
  local marked = string.sub(record, 1, s - 1) .. ',"status":"running","attempts":' .. (tonumber(attempts) + 1)
    .. string.sub(record, e, us - 1) .. ',"updated_at":"' .. now_iso .. '"' .. string.sub(record, ue + 1)
  redis.call('SET', key, marked)
  return marked
end
`;

/**
 * Finishing an intent is one script: its final record (kept for the retention), its
 * call's line and the unfinished index, the dead letters, the transfer counts, the
 * call's new state and the lock release land together, and the next intent of the
 * call (the new head of its line) comes back.
 * KEYS: intent, pending, unfinished, dead letters, lock, the eight of apply_effect, then the calls to count.
 * ARGV: id, record, retention s, failed (1/0), now ms, lock token (or ''), call ttl, effect (1/0), then apply_effect's eleven.
 */
const FINISH = luaScript(`${APPLY_EFFECT_FUNCTION}
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1]) else redis.call('ZREM', KEYS[4], ARGV[1]) end
-- Dead letters older than the retention have no record left: the index forgets them too.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[3]) * 1000)
for i = 14, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'transfer_count', 1)
  redis.call('EXPIRE', KEYS[i], ARGV[7])
end
if ARGV[8] == '1' then apply_effect({unpack(KEYS, 6, 13)}, {unpack(ARGV, 9, 19)}) end
if ARGV[6] ~= '' and redis.call('GET', KEYS[5]) == ARGV[6] then redis.call('DEL', KEYS[5]) end
return redis.call('ZRANGE', KEYS[2], 0, 0)[1] or false
`);

/** Idempotency keys last 24 h, or less when finished intents are kept less (a key must not outlive its intent). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export type AcceptResult =
  /** `claimedSince`: when the claimed caller had joined its queue (ms), with `claim`. */
  | { kind: 'created'; record: IntentRecord; claimedSince?: number }
  | { kind: 'replayed'; record: IntentRecord }
  | { kind: 'conflict'; intentId: string }
  | { kind: 'budget_spent' }
  | { kind: 'queue_full' }
  | { kind: 'rate_limited' }
  /** The caller to claim was not in its queue (a dequeue took it, or it left). */
  | { kind: 'not_waiting' };

/** Refusals the accept script checks in the same round trip (SPEC §3). */
export interface AcceptLimits {
  transferBudget: number;
  /** For an enqueue: the queue and its max size. */
  queue?: { name: string; maxSize: number };
  /** Intents per second this client may post (0: no limit). */
  perSecond?: number;
}

export interface IntentStore {
  /** Stores the intent and queues its job, atomically; `id` is a fresh UUID by default. */
  accept(input: {
    client: string;
    request: IntentInput;
    idempotencyKey?: string;
    id?: string;
    limits?: AcceptLimits;
    /** Takes this caller out of this queue in the same step; refused (`not_waiting`) when it is not there. */
    claim?: { queue: string; callUuid: string };
  }): Promise<AcceptResult>;
  get(id: string): Promise<IntentRecord | null>;
  /** Several records in one round trip, in the order asked (null where gone). */
  getMany(ids: readonly string[]): Promise<(IntentRecord | null)[]>;
  /** Dead letters, newest first: failed intents still within retention. */
  listFailed(offset: number, limit: number): Promise<{ records: IntentRecord[]; total: number }>;
  /** Unfinished intents accepted before `olderThanMs` (oldest first), for the job sweeper. */
  unfinishedBefore(olderThanMs: number, limit: number): Promise<string[]>;
  /** Forgets an id the sweeper found finished or gone. */
  forgetUnfinished(id: string): Promise<void>;
  /** Puts a failed intent back in its call's line, as it was accepted (same sequence number). */
  requeue(record: IntentRecord): Promise<IntentRecord>;
  save(record: IntentRecord): Promise<void>;
  finish(
    record: IntentRecord,
    status: TerminalStatus,
    opts?: {
      error?: IntentError;
      effect?: CallEffect;
      from?: CallState;
      /** Calls whose transfer count goes up by one (the transfers this finish records). */
      counts?: string[];
      /** Releases the call lock in the same transaction. */
      release?: { callUuid: string; token: string };
    },
  ): Promise<FinishResult>;
  /** Records an accepted transfer that is not the last of its intent: the record and the call's count, together. */
  saveTransfer(record: IntentRecord, countCall: string): Promise<void>;
}

export interface FinishResult {
  record: IntentRecord;
  /** The intent now at the head of the call's line, if any: its job can run now. */
  nextIntentId: string | null;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A canonical JSON (sorted keys) so the same body always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function createIntentStore(redis: Redis, keys: Keys, opts: { retentionSeconds: number; jobs: JobInsert }): IntentStore {
  const ACCEPT = acceptScript(opts.jobs);
  const idemKey = (client: string, key?: string) => keys.idempotency(client, key ? sha256(key) : '-');

  async function get(id: string): Promise<IntentRecord | null> {
    const raw = await redis.get(keys.intent(id));
    return raw ? (JSON.parse(raw) as IntentRecord) : null;
  }

  return {
    async accept({ client, request, idempotencyKey, id = randomUUID(), limits, claim }) {
      const nowMs = Date.now();
      const now = new Date(nowMs).toISOString();
      // "seq" goes first, as a 0 the script replaces with the call's next number.
      const record: IntentRecord = {
        seq: 0,
        id,
        client,
        status: 'queued',
        attempts: 0,
        created_at: now,
        updated_at: now,
        finished_at: null,
        transfers: [],
        error: null,
        request,
      };
      // Only a replay compares bodies, and only a request with an Idempotency-Key can be replayed.
      const bodyHash = idempotencyKey ? sha256(canonical(request)) : '';
      const callUuid = orderingCall(request);
      const [created, value, since] = (await ACCEPT(
        redis,
        11 + opts.jobs.keys.length,
        keys.intent(id),
        idemKey(client, idempotencyKey),
        keys.call(callUuid),
        keys.pending(callUuid),
        keys.unfinished(),
        keys.queue(limits?.queue?.name ?? '-'),
        keys.intentRate(client, Math.floor(nowMs / 1000)),
        keys.queue(claim?.queue ?? '-'),
        keys.queueTimes(claim?.queue ?? '-'),
        keys.queueIndex(),
        keys.queueActivity(),
        ...opts.jobs.keys,
        id,
        JSON.stringify(record),
        bodyHash,
        Math.min(IDEMPOTENCY_TTL_SECONDS, opts.retentionSeconds),
        idempotencyKey ? '1' : '0',
        CALL_TTL_SECONDS,
        nowMs,
        limits?.transferBudget ?? Number.MAX_SAFE_INTEGER,
        limits?.queue?.name ?? '',
        limits?.queue?.maxSize ?? 0,
        limits?.perSecond ?? 0,
        opts.jobs.data({ intentId: id, callUuid }),
        claim?.callUuid ?? '',
        claim?.queue ?? '',
      )) as [number, string | number, string | null | undefined];
      if (created === 1) {
        record.seq = Number(value);
        return { kind: 'created', record, ...(claim && since ? { claimedSince: Number(since) } : {}) };
      }
      if (created === 2) return { kind: 'budget_spent' };
      if (created === 3) return { kind: 'queue_full' };
      if (created === 4) return { kind: 'rate_limited' };
      if (created === 5) return { kind: 'not_waiting' };
      const [existingId = '', existingHash] = String(value).split(' ');
      if (existingHash !== bodyHash) return { kind: 'conflict', intentId: existingId };
      const existing = await get(existingId);
      // The key outlived its intent (retention shorter than a day): treat as a conflict, never re-run silently.
      if (!existing) return { kind: 'conflict', intentId: existingId };
      return { kind: 'replayed', record: existing };
    },

    get,

    async getMany(ids) {
      if (ids.length === 0) return [];
      const raw = await redis.mget(ids.map((id) => keys.intent(id)));
      return raw.map((r) => (r ? (JSON.parse(r) as IntentRecord) : null));
    },

    async listFailed(offset, limit) {
      const [ids, total] = await Promise.all([redis.zrevrange(keys.deadLetters(), offset, offset + limit - 1), redis.zcard(keys.deadLetters())]);
      const raw = ids.length > 0 ? await redis.mget(ids.map((id) => keys.intent(id))) : [];
      const records: IntentRecord[] = [];
      const expired: string[] = [];
      raw.forEach((r, i) => (r ? records.push(JSON.parse(r) as IntentRecord) : expired.push(ids[i]!)));
      if (expired.length > 0) await redis.zrem(keys.deadLetters(), ...expired);
      return { records, total: total - expired.length };
    },

    unfinishedBefore: (olderThanMs, limit) => redis.zrangebyscore(keys.unfinished(), '-inf', olderThanMs, 'LIMIT', 0, limit),

    async forgetUnfinished(id) {
      await redis.zrem(keys.unfinished(), id);
    },

    async requeue(record) {
      const now = new Date().toISOString();
      const again: IntentRecord = { ...record, status: 'queued', error: null, finished_at: null, updated_at: now };
      const callUuid = orderingCall(record.request);
      await redis
        .multi()
        .set(keys.intent(record.id), JSON.stringify(again))
        .zadd(keys.pending(callUuid), record.seq, record.id)
        .expire(keys.pending(callUuid), CALL_TTL_SECONDS)
        .zrem(keys.deadLetters(), record.id)
        .zadd(keys.unfinished(), Date.now(), record.id)
        .exec();
      return again;
    },

    async save(record) {
      record.updated_at = new Date().toISOString();
      await redis.set(keys.intent(record.id), JSON.stringify(record));
    },

    async saveTransfer(record, countCall) {
      record.updated_at = new Date().toISOString();
      await redis
        .multi()
        .set(keys.intent(record.id), JSON.stringify(record))
        .hincrby(keys.call(countCall), 'transfer_count', 1)
        .expire(keys.call(countCall), CALL_TTL_SECONDS)
        .exec();
    },

    async finish(record, status, { error, effect, from, counts = [], release } = {}) {
      const now = new Date().toISOString();
      const done: IntentRecord = { ...record, status, error: error ?? null, updated_at: now, finished_at: now };
      const callUuid = orderingCall(record.request);
      const nowMs = Date.now();
      // Without an effect the script skips apply_effect; its inputs are only placeholders then.
      const change = effectInputs(keys, callUuid, effect ?? { state: 'ended', queue: null, held_legs: null }, { from, seq: record.seq, intentId: record.id, now: nowMs });
      const scriptKeys = [
        keys.intent(record.id),
        keys.pending(callUuid),
        keys.unfinished(),
        keys.deadLetters(),
        keys.lock(release?.callUuid ?? callUuid),
        ...change.keys,
        ...counts.map((call) => keys.call(call)),
      ];
      const head = (await FINISH(
        redis,
        scriptKeys.length,
        ...scriptKeys,
        record.id,
        JSON.stringify(done),
        opts.retentionSeconds,
        status === 'failed' ? '1' : '0',
        nowMs,
        release?.token ?? '',
        CALL_TTL_SECONDS,
        effect ? '1' : '0',
        ...change.args,
      )) as string | null;
      return { record: done, nextIntentId: head ?? null };
    },
  };
}

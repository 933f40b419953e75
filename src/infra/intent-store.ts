import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  orderingCall,
  type IntentError,
  type IntentInput,
  type IntentRecord,
  type TerminalStatus,
} from '../domain/intent.js';
import type { CallEffect, CallState } from '../domain/call.js';
import {
  CLASS_BAND,
  classIndex,
  INTENT_CLASSES,
  intentClass,
  recordClass,
  type IntentClass,
} from '../domain/intent-class.js';
import { effectInputs } from './call-effects.js';
import { CALL_TTL_SECONDS, type Keys } from './keys.js';
import type { JobInsert } from './job-insert.js';
import { acceptScript, FINISH, SAVE_TRANSFER } from './scripts.js';

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

/** Refusals the accept script checks in the same round trip. */
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
    /** The class it is served in when it waits for Plivo's rate: its type's unless told. */
    cls?: IntentClass;
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

/** How a new record's JSON begins (its placeholder seq), cut off before the accept script numbers it. */
const UNNUMBERED = '{"seq":0,';

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

export function createIntentStore(
  redis: Redis,
  keys: Keys,
  opts: { retentionSeconds: number; jobs: JobInsert },
): IntentStore {
  const ACCEPT = acceptScript(opts.jobs, {
    unfinished: keys.unfinished(),
    queue_index: keys.queueIndex(),
    queue_activity: keys.queueActivity(),
    events: keys.events(),
    idempotency_ttl: Math.min(IDEMPOTENCY_TTL_SECONDS, opts.retentionSeconds),
    call_ttl: CALL_TTL_SECONDS,
    band: CLASS_BAND,
    events_max: keys.eventsMax,
  });
  const idemKey = (client: string, key?: string) => keys.idempotency(client, key ? sha256(key) : '-');

  async function get(id: string): Promise<IntentRecord | null> {
    const raw = await redis.get(keys.intent(id));
    return raw ? (JSON.parse(raw) as IntentRecord) : null;
  }

  return {
    async accept({
      client,
      request,
      cls = intentClass(request.type),
      idempotencyKey,
      id = randomUUID(),
      limits,
      claim,
    }) {
      const nowMs = Date.now();
      const now = new Date(nowMs).toISOString();
      // "seq" goes first: the script gives it the call's next number.
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
        class: cls,
      };
      // Only a replay compares bodies, and only a request with an Idempotency-Key can be replayed.
      const bodyHash = idempotencyKey ? sha256(canonical(request)) : '';
      const callUuid = orderingCall(request);
      // The record as the script stores it: without its seq (the script writes the call's number first).
      const json = JSON.stringify(record);
      if (!json.startsWith(UNNUMBERED)) throw new Error('an intent record does not begin with its seq');
      const reply = await ACCEPT.run(
        redis,
        {
          intent: keys.intent(id),
          idempotency: idemKey(client, idempotencyKey),
          call: keys.call(callUuid),
          pending: keys.pending(callUuid),
          queue: keys.queue(limits?.queue?.name ?? '-'),
          client_rate: keys.intentRate(client, Math.floor(nowMs / 1000)),
          claim_queue: keys.queue(claim?.queue ?? '-'),
          claim_queue_times: keys.queueTimes(claim?.queue ?? '-'),
          fair: keys.fair(cls),
          fair_open: keys.fairOpen(cls),
          claim_queue_stats: keys.queueStats(claim?.queue ?? '-'),
          claim_queue_outcomes: keys.queueOutcomes(claim?.queue ?? '-'),
        },
        {
          id,
          // The script puts the call's sequence number first (mark-running.lua reads it there).
          record: `{${json.slice(UNNUMBERED.length)}`,
          body_hash: bodyHash,
          has_key: idempotencyKey ? '1' : '0',
          now_ms: nowMs,
          budget: limits?.transferBudget ?? Number.MAX_SAFE_INTEGER,
          queue_name: limits?.queue?.name ?? '',
          queue_max: limits?.queue?.maxSize ?? 0,
          rate_limit: limits?.perSecond ?? 0,
          job_data: opts.jobs.data({ intentId: id, callUuid }),
          claim_call: claim?.callUuid ?? '',
          claim_queue_name: claim?.queue ?? '',
          call_uuid: callUuid,
          client,
          class_index: classIndex(cls),
          intent_type: request.type,
          intent_queue: 'queue' in request ? request.queue : '',
        },
      );
      if (reply.status === 'created') {
        const [seq, since] = reply.values as [number, string | null | false];
        record.seq = Number(seq);
        return { kind: 'created', record, ...(claim && since ? { claimedSince: Number(since) } : {}) };
      }
      if (reply.status !== 'replayed') return { kind: reply.status };
      const value = reply.values[0];
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
      const [ids, total] = await Promise.all([
        redis.zrevrange(keys.deadLetters(), offset, offset + limit - 1),
        redis.zcard(keys.deadLetters()),
      ]);
      const raw = ids.length > 0 ? await redis.mget(ids.map((id) => keys.intent(id))) : [];
      const records: IntentRecord[] = [];
      const expired: string[] = [];
      raw.forEach((r, i) => (r ? records.push(JSON.parse(r) as IntentRecord) : expired.push(ids[i]!)));
      if (expired.length > 0) await redis.zrem(keys.deadLetters(), ...expired);
      return { records, total: total - expired.length };
    },

    unfinishedBefore: (olderThanMs, limit) =>
      redis.zrangebyscore(keys.unfinished(), '-inf', olderThanMs, 'LIMIT', 0, limit),

    async forgetUnfinished(id) {
      // The record is gone, and its class with it: it leaves every class's unfinished set.
      const forget = redis.multi().zrem(keys.unfinished(), id);
      for (const cls of INTENT_CLASSES) forget.zrem(keys.fairOpen(cls), id);
      await forget.exec();
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
        .zadd(keys.fairOpen(recordClass(record)), Date.now(), record.id)
        .exec();
      return again;
    },

    async save(record) {
      record.updated_at = new Date().toISOString();
      await redis.set(keys.intent(record.id), JSON.stringify(record));
    },

    async saveTransfer(record, countCall) {
      record.updated_at = new Date().toISOString();
      await SAVE_TRANSFER.run(
        redis,
        { intent: keys.intent(record.id), call: keys.call(countCall) },
        { record: JSON.stringify(record), call_ttl: CALL_TTL_SECONDS },
      );
    },

    async finish(record, status, { error, effect, from, counts = [], release } = {}) {
      const now = new Date().toISOString();
      const done: IntentRecord = { ...record, status, error: error ?? null, updated_at: now, finished_at: now };
      const callUuid = orderingCall(record.request);
      const nowMs = Date.now();
      // Without an effect the script skips apply_effect; its inputs are only placeholders then.
      const change = effectInputs(keys, callUuid, effect ?? { state: 'ended', queue: null, held_legs: null }, {
        from,
        seq: record.seq,
        intentId: record.id,
        now: nowMs,
      });
      const reply = await FINISH.run(
        redis,
        {
          intent: keys.intent(record.id),
          pending: keys.pending(callUuid),
          unfinished: keys.unfinished(),
          dead: keys.deadLetters(),
          lock: keys.lock(release?.callUuid ?? callUuid),
          fair: keys.fair(recordClass(record)),
          fair_open: keys.fairOpen(recordClass(record)),
          ...change.keys,
          rest: counts.map((call) => keys.call(call)),
        },
        {
          id: record.id,
          record: JSON.stringify(done),
          retention: opts.retentionSeconds,
          failed: status === 'failed' ? '1' : '0',
          now_ms: nowMs,
          lock_token: release?.token ?? '',
          call_ttl: CALL_TTL_SECONDS,
          effect: effect ? '1' : '0',
          ...change.args,
          event: `intent.${status}`,
          intent_type: record.request.type,
          intent_queue: 'queue' in record.request ? record.request.queue : '',
          error: error ? JSON.stringify(error) : '',
        },
      );
      const head = reply.values[0] as string | false;
      return { record: done, nextIntentId: head || null };
    },
  };
}

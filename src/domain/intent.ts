import { z } from 'zod';
import { recordClass, type IntentClass } from './intent-class.js';

/**
 * Call UUIDs, queue names and music profiles end up in Redis keys, URLs and
 * Plivo XML, so they are restricted to a small safe alphabet here, at the edge.
 */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const safeId = (what: string) =>
  z.string().regex(SAFE_ID, `${what} must be 1-64 characters of A-Z a-z 0-9 _ - and start with a letter or digit`);

export const callUuid = safeId('call UUID');
export const queueName = safeId('queue name');
export const profileName = safeId('music profile');

export const LEGS = ['aleg', 'bleg', 'both'] as const;
export type Legs = (typeof LEGS)[number];
export const legs = z.enum(LEGS);
export const httpMethod = z.enum(['GET', 'POST']);
export type HttpMethod = z.infer<typeof httpMethod>;

/**
 * An absolute http(s) URL without credentials, stored and sent in its WHATWG serialisation: the
 * form every check (allowlist, SSRF guard) reads is the form that leaves holdq, so a string that
 * parsers read differently (a backslash before an @, a stray space, a missing //) cannot be checked
 * as one host and reach another.
 */
export const httpUrl = z
  .string()
  .max(2048)
  .transform((s, ctx) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
      return z.NEVER;
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '') {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL without credentials' });
      return z.NEVER;
    }
    return u.href;
  });

/** Where a caller goes when its wait is over: a queue name, or an http(s) URL (normalised). */
export const overflowTarget = z.union([queueName, httpUrl], {
  error: 'must be a queue name (1-64 characters of A-Z a-z 0-9 _ -) or an absolute http(s) URL',
});
/** A queue name can hold no ':' and a URL must: the two never overlap. */
export const isQueueTarget = (target: string) => SAFE_ID.test(target);

/**
 * A phone number in E.164 (`+` and 7 to 15 digits, no spaces): what Plivo's Make Call takes as `to`.
 * Personal data: holdq keeps it only while a callback is pending and shows only its last 4 digits.
 */
export const E164 = /^\+[1-9][0-9]{6,14}$/;
export const phoneNumber = z
  .string()
  .regex(E164, 'must be a phone number in E.164 form: + then 7-15 digits, e.g. +14155550100');
/** A number as logs and events show it: its last 4 digits. */
export const maskNumber = (number: string) => (number.length > 4 ? `***${number.slice(-4)}` : '***');

const common = { callback_url: httpUrl.optional() };

export const holdIntent = z.strictObject({
  type: z.literal('hold'),
  call_uuid: callUuid,
  legs: legs.default('aleg'),
  music: profileName.optional(),
  ...common,
});

export const unholdIntent = z.strictObject({
  type: z.literal('unhold'),
  call_uuid: callUuid,
  ...common,
});

export const enqueueIntent = z.strictObject({
  type: z.literal('enqueue'),
  call_uuid: callUuid,
  queue: queueName,
  priority: z.int().min(-1000).max(1000).default(0),
  max_wait_seconds: z.int().min(1).max(86_400).optional(),
  overflow: overflowTarget.optional(),
  ...common,
});

export const dequeueIntent = z.strictObject({
  type: z.literal('dequeue'),
  queue: queueName,
  agent_call_uuid: callUuid,
  /** A specific member to take instead of the first in line. */
  call_uuid: callUuid.optional(),
  ...common,
});

/** A waiting caller leaves the line and is called back when its turn comes, keeping its place (SPEC §10). */
export const callbackIntent = z.strictObject({
  type: z.literal('callback'),
  call_uuid: callUuid,
  queue: queueName,
  /** Where to call back; by default the number Plivo reported as the caller's From. */
  number: phoneNumber.optional(),
  ...common,
});

export const transferIntent = z
  .strictObject({
    type: z.literal('transfer'),
    call_uuid: callUuid,
    legs,
    aleg_url: httpUrl.optional(),
    aleg_method: httpMethod.default('POST'),
    bleg_url: httpUrl.optional(),
    bleg_method: httpMethod.default('POST'),
    ...common,
  })
  .superRefine((t, ctx) => {
    // Plivo needs aleg_url for aleg/both and bleg_url for bleg/both; neither SDK checks it, so we do.
    if (t.legs !== 'bleg' && !t.aleg_url) {
      ctx.addIssue({ code: 'custom', path: ['aleg_url'], message: `aleg_url is required when legs is ${t.legs}` });
    }
    if (t.legs !== 'aleg' && !t.bleg_url) {
      ctx.addIssue({ code: 'custom', path: ['bleg_url'], message: `bleg_url is required when legs is ${t.legs}` });
    }
  });

export const intentInput = z.discriminatedUnion('type', [
  holdIntent,
  unholdIntent,
  enqueueIntent,
  dequeueIntent,
  callbackIntent,
  transferIntent,
]);

export type IntentInput = z.infer<typeof intentInput>;
export type IntentType = IntentInput['type'];
export const INTENT_TYPES = [
  'hold',
  'unhold',
  'enqueue',
  'dequeue',
  'callback',
  'transfer',
] as const satisfies readonly IntentType[];

/**
 * The call whose line an intent waits in (per-call order: docs/architecture.md). A dequeue acts
 * for the agent's call, so intents for one agent run one at a time.
 */
export function orderingCall(intent: IntentInput): string {
  return intent.type === 'dequeue' ? intent.agent_call_uuid : intent.call_uuid;
}

export const INTENT_STATUSES = ['queued', 'running', 'completed', 'failed', 'superseded'] as const;
export type IntentStatus = (typeof INTENT_STATUSES)[number];
export type TerminalStatus = Extract<IntentStatus, 'completed' | 'failed' | 'superseded'>;
export const isTerminal = (s: IntentStatus): s is TerminalStatus =>
  s === 'completed' || s === 'failed' || s === 'superseded';

/** The closed set of reasons an intent can fail with (README, the intent error codes). */
export type IntentErrorCode =
  | 'call_not_found'
  | 'upstream_rejected'
  | 'upstream_unavailable'
  | 'transfer_limit'
  | 'not_on_hold'
  | 'bleg_unknown'
  | 'invalid_intent'
  | 'queue_full'
  | 'queue_empty'
  /** A callback intent's caller is not waiting in that queue. */
  | 'not_queued'
  /** A callback intent named no number, and Plivo never reported the caller's. */
  | 'number_unknown'
  /** The run was cut short after it may have reached Plivo: holdq cannot know whether the transfer took effect. */
  | 'outcome_unknown'
  /** The intent could not be run at all (its job failed before anything was sent to Plivo). */
  | 'worker_failed';

export interface IntentError {
  code: IntentErrorCode;
  message: string;
}

export interface TransferRecord {
  call_uuid: string;
  legs: Legs;
  aleg_url?: string;
  aleg_method?: HttpMethod;
  bleg_url?: string;
  bleg_method?: HttpMethod;
  /** Plivo's HTTP status, or null when no answer came (timeout, connection reset). */
  status_code: number | null;
  api_id: string | null;
  at: string;
  /** Why the request did not succeed, when it did not. */
  error?: string;
}

/** What holdq stores per intent. `request` is the validated input; `seq` orders intents per call. */
export interface IntentRecord {
  seq: number;
  id: string;
  client: string;
  status: IntentStatus;
  attempts: number;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  transfers: TransferRecord[];
  error: IntentError | null;
  request: IntentInput;
  /** When it waits for Plivo's rate, the class it is served in (domain/intent-class.ts); absent on records from before classes. */
  class?: IntentClass;
  /** For dequeue: the member taken from the queue, kept so a retry moves the same caller. */
  member?: { call_uuid: string; score: number; enqueued_at: number; callback?: boolean } | null;
}

/** The public shape of an intent (README, "GET /v1/intents/{id}"): the request fields, then the record's own. */
export function intentView(r: IntentRecord) {
  return {
    id: r.id,
    /** Position of this intent in its call's line (1, 2, …): the order intents take effect in. */
    sequence: r.seq,
    ...r.request,
    ...(r.member ? { call_uuid: r.member.call_uuid } : {}),
    // A number is personal data: the API shows its last 4 digits only.
    ...(r.request.type === 'callback' && r.request.number ? { number: maskNumber(r.request.number) } : {}),
    client: r.client,
    class: recordClass(r),
    status: r.status,
    attempts: r.attempts,
    created_at: r.created_at,
    updated_at: r.updated_at,
    finished_at: r.finished_at,
    transfers: r.transfers,
    error: r.error,
  };
}

import { z } from 'zod';
import { CALL_STATES } from '../domain/call.js';
import { INTENT_CLASSES } from '../domain/intent-class.js';
import {
  callbackIntent,
  dequeueIntent,
  enqueueIntent,
  holdIntent,
  INTENT_STATUSES,
  LEGS,
  transferIntent,
  unholdIntent,
  type IntentErrorCode,
} from '../domain/intent.js';

/**
 * What the API answers, as zod schemas (SPEC §13): the routes type their answers with these, the
 * OpenAPI document is generated from them (openapi.ts), and the tests check every answer they get
 * against them, strictly, so an answer can carry no field the document does not declare.
 */

const time = z.iso.datetime({ offset: true });
const nullableInt = z.int().nullable();

export const INTENT_ERROR_CODES = [
  'call_not_found',
  'upstream_rejected',
  'upstream_unavailable',
  'transfer_limit',
  'not_on_hold',
  'bleg_unknown',
  'invalid_intent',
  'queue_full',
  'queue_empty',
  'not_queued',
  'number_unknown',
  'outcome_unknown',
  'worker_failed',
] as const satisfies readonly IntentErrorCode[];

export const transferView = z
  .strictObject({
    call_uuid: z.string(),
    legs: z.enum(LEGS),
    aleg_url: z.string().optional(),
    aleg_method: z.enum(['GET', 'POST']).optional(),
    bleg_url: z.string().optional(),
    bleg_method: z.enum(['GET', 'POST']).optional(),
    status_code: nullableInt.describe('Plivo HTTP status; null for a timeout or a reset'),
    api_id: z.string().nullable(),
    at: time,
    error: z.string().optional(),
  })
  .meta({ id: 'Transfer' });

export const intentErrorView = z.strictObject({ code: z.enum(INTENT_ERROR_CODES), message: z.string() });

/** The record's own fields, after the request's. */
const recordFields = {
  id: z.uuid(),
  sequence: z.int().describe("position in its call's line of intents"),
  client: z.string(),
  class: z
    .enum(INTENT_CLASSES)
    .describe(
      "the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns",
    ),
  status: z.enum(INTENT_STATUSES),
  attempts: z.int(),
  created_at: time,
  updated_at: time,
  finished_at: time.nullable(),
  transfers: z.array(transferView),
  error: intentErrorView.nullable(),
};

/** URL fields as stored: their normalised form (the request schemas' transforms, which JSON Schema cannot say). */
const url = z.string().describe('an absolute http(s) URL, in its normalised (WHATWG) form');
const urls = { callback_url: url.optional() };

/** An intent as the API shows it: its request's fields (as validated), then the record's. */
export const intentView = z
  .discriminatedUnion('type', [
    z.strictObject({ ...holdIntent.shape, ...urls, ...recordFields }),
    z.strictObject({ ...unholdIntent.shape, ...urls, ...recordFields }),
    z.strictObject({
      ...enqueueIntent.shape,
      ...urls,
      overflow: z.string().optional().describe('a queue name, or an absolute http(s) URL'),
      ...recordFields,
    }),
    z.strictObject({
      ...dequeueIntent.shape,
      call_uuid: z.string().optional().describe('the caller it took (or was told to take)'),
      ...recordFields,
    }),
    z.strictObject({
      ...callbackIntent.shape,
      ...urls,
      number: z.string().optional().describe('the number to call back, masked to its last 4 digits'),
      ...recordFields,
    }),
    z.strictObject({
      ...transferIntent.shape,
      ...urls,
      aleg_url: url.optional(),
      bleg_url: url.optional(),
      ...recordFields,
    }),
  ])
  .meta({ id: 'Intent', description: 'The intent record: the request fields, then the record fields.' });
export type IntentView = z.output<typeof intentView>;

export const deadLetterPage = z
  .strictObject({
    items: z.array(intentView),
    total: z.int(),
    next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last'),
  })
  .meta({ id: 'DeadLetterPage' });

export const callView = z
  .strictObject({
    call_uuid: z.string(),
    state: z.enum(CALL_STATES).nullable(),
    queue: z.string().nullable(),
    position: nullableInt.describe('1 = served next; null unless queued'),
    since: time.nullable(),
    transfer_count: z.int(),
    transfer_budget: z.int(),
    last_intent_id: z.string().nullable(),
    held_legs: z.enum(LEGS).nullable().describe('the legs the hold in force moved'),
    bleg_uuid: z.string().nullable().describe("the B leg's own UUID, once Plivo fetched its park document"),
  })
  .meta({ id: 'Call' });
export type CallView = z.output<typeof callView>;

const estimate = (what: string) =>
  nullableInt.describe(
    `estimated wait in seconds, ${what}; null while the queue has too little history (README, "Estimated wait")`,
  );

export const queueSummary = z.strictObject({
  name: z.string(),
  waiting: z.int(),
  oldest_wait_seconds: z.number(),
  estimated_wait_seconds: estimate('for a caller joining now'),
  configured: z.boolean(),
});

export const queuePage = z
  .strictObject({
    items: z.array(queueSummary),
    next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last'),
  })
  .meta({ id: 'QueuePage' });
export type QueuePage = z.output<typeof queuePage>;

export const queueView = z
  .strictObject({
    name: z.string(),
    waiting: z.int(),
    oldest_wait_seconds: z.number(),
    estimated_wait_seconds: estimate('for a caller joining now'),
    service_level: z
      .strictObject({
        threshold_seconds: z.int(),
        answered_within: z.int(),
        answered: z.int(),
        ratio: z.number().nullable().describe('null before anyone was answered in the window'),
        target: z
          .number()
          .describe('the ratio the queue should keep (its service_level_target, 0.8 unless configured)'),
      })
      .describe("answered within the queue's service_level_seconds, of those answered, over STATS_WINDOW_SECONDS"),
    abandoned_ratio: z
      .number()
      .nullable()
      .describe('hung up while waiting, of those answered, hung up or overflowed, over STATS_WINDOW_SECONDS'),
    max_size: z.int(),
    configured: z.boolean(),
    members: z.array(
      z.strictObject({
        call_uuid: z.string(),
        position: z.int(),
        wait_seconds: z.number(),
        priority: z.int(),
        estimated_wait_seconds: estimate('how much longer this caller is estimated to wait'),
        callback: z
          .boolean()
          .describe('the caller left the line and is called back when its turn comes, keeping this place (SPEC §10)'),
      }),
    ),
  })
  .meta({ id: 'Queue' });
export type QueueView = z.output<typeof queueView>;

export const heldCallPage = z
  .strictObject({
    items: z.array(
      z.strictObject({
        call_uuid: z.string(),
        since: time.describe('when the hold began'),
        held_seconds: z.number().describe('how long the call has been on hold, at the time of the answer'),
        held_legs: z.enum(LEGS).nullable().describe('the legs the hold moved'),
        last_intent_id: z.string().nullable(),
      }),
    ),
    next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last'),
  })
  .meta({ id: 'HeldCallPage', description: 'Calls on hold, longest held first' });
export type HeldCallPage = z.output<typeof heldCallPage>;

export const wallboardSessionView = z
  .strictObject({
    client: z.string().describe('the name of the key the session was opened with'),
    role: z.enum(['read', 'write', 'admin']).describe("the key's role; the session itself may only read"),
    account: z.string().describe("the key's Plivo account: the session sees its queues and calls only"),
    expires_at: time.describe('the session ends then (WALLBOARD_SESSION_SECONDS after sign-in), or at sign-out'),
  })
  .meta({ id: 'WallboardSession' });
export type WallboardSessionView = z.output<typeof wallboardSessionView>;

export const problemView = z
  .strictObject({
    type: z.url(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.strictObject({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; errors name each invalid field' });
export type ProblemView = z.output<typeof problemView>;

/** The data of each event type (SPEC §8), beside `type` and `at`. */
const base = { at: time, call_uuid: z.string() };
const placed = {
  ...base,
  queue: z.string(),
  position: z.int(),
  estimated_wait_seconds: estimate('from this moment'),
};
export const eventView = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('intent.accepted'),
      ...base,
      intent_id: z.string(),
      intent_type: z.string(),
      client: z.string(),
      queue: z.string().optional(),
    }),
    ...(['intent.completed', 'intent.failed', 'intent.superseded'] as const).map((type) =>
      z.strictObject({
        type: z.literal(type),
        ...base,
        intent_id: z.string(),
        intent_type: z.string(),
        queue: z.string().optional(),
        error: intentErrorView.optional(),
      }),
    ),
    ...(['call.held', 'call.unheld', 'call.bridged', 'call.ended'] as const).map((type) =>
      z.strictObject({
        type: z.literal(type),
        ...base,
        intent_id: z.string().optional(),
        legs: z.enum(LEGS).optional(),
      }),
    ),
    z.strictObject({ type: z.literal('queue.joined'), ...placed }),
    z.strictObject({ type: z.literal('queue.position'), ...placed }),
    z.strictObject({
      type: z.literal('queue.left'),
      ...base,
      queue: z.string(),
      reason: z.enum(['bridged', 'abandoned', 'overflow', 'callback', 'moved']),
      wait_seconds: z.number(),
    }),
    ...(['callback.requested', 'callback.dialing', 'callback.connected', 'callback.failed'] as const).map((type) =>
      z.strictObject({
        type: z.literal(type),
        ...base,
        queue: z.string(),
        attempt: z.int().describe('the call-back attempt (0 when requested)'),
        number: z.string().describe('the number, masked to its last 4 digits'),
        intent_id: z.string().optional(),
        reason: z.string().optional().describe('callback.failed: why the last attempt failed (busy, no-answer, …)'),
      }),
    ),
    z.strictObject({ type: z.literal('reset'), at: time, after: z.string() }),
  ])
  .meta({ id: 'Event', description: "An event's data: the `data:` line of GET /v1/events, as JSON" });

import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { PlivoAccount } from '../domain/account.js';
import { AppError, type FieldError } from './errors.js';
import {
  INTENT_TYPES,
  intentInput,
  intentView,
  isQueueTarget,
  orderingCall,
  type IntentInput,
  type IntentRecord,
} from '../domain/intent.js';
import type { IntentView } from './responses.js';
import { intentClass } from '../domain/intent-class.js';
import { resolveQueue } from '../domain/queue-config.js';
import { disallowedTransferUrls, hostAllowed } from '../domain/transfers.js';
import { isPrivateUrl } from '../infra/public-address.js';
import type { IntentStore } from '../infra/intent-store.js';
import { addIntentJob, type IntentJobs } from '../infra/intent-queue.js';
import { caller, requireRole } from './auth.js';
import { requestLog } from './request-observer.js';
import { retryIntent } from './retry-intent.js';
import type { Metrics } from '../observability/metrics.js';
import { CLIENT_PARSE, fieldErrors } from './problem.js';

/** An intent as the API answers it: typed by the document's schema (responses.ts), so the two agree. */
const viewOf = (r: IntentRecord): IntentView => intentView(r);

export interface IntentRoutesDeps {
  config: Readonly<Config>;
  /** The account the intents are of: its transfer budget; its stores are the ones below. */
  account: PlivoAccount;
  store: IntentStore;
  jobs: IntentJobs;
  metrics: Metrics;
}

export const BODY_LIMIT = '16kb';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const listQuery = z.strictObject({
  status: z.literal('failed', {
    error: (issue) =>
      `${issue.input === undefined ? 'required: ' : ''}only status=failed (the dead letters) can be listed`,
  }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.coerce.number().int().min(0).default(0),
});
const INTENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Rules that need the configuration, checked after the schema: profiles and the transfer allowlist. */
function configRules(intent: IntentInput, config: Readonly<Config>, account: PlivoAccount): FieldError[] {
  const errors: FieldError[] = [];
  if (
    intent.type === 'hold' &&
    intent.music &&
    !Object.hasOwn(config.HOLD_MUSIC_PROFILES, intent.music) &&
    intent.music !== 'default'
  ) {
    errors.push({
      field: 'music',
      message: `unknown music profile; configured: ${['default', ...Object.keys(config.HOLD_MUSIC_PROFILES)].join(', ')}`,
    });
  }
  for (const field of disallowedTransferUrls(intent, config.TRANSFER_URL_ALLOWLIST)) {
    errors.push({
      field,
      message: `host is not on TRANSFER_URL_ALLOWLIST (${config.TRANSFER_URL_ALLOWLIST.join(', ')})`,
    });
  }
  if (intent.callback_url && !config.CALLBACK_ALLOW_PRIVATE && isPrivateUrl(intent.callback_url)) {
    errors.push({
      field: 'callback_url',
      message: 'must not target loopback, private or link-local addresses (CALLBACK_ALLOW_PRIVATE)',
    });
  }
  if (intent.type === 'callback' && config.CALLBACK_CALLER_ID === undefined && !account.simulated) {
    errors.push({
      field: 'type',
      message: 'call-me-back needs CALLBACK_CALLER_ID, the number call-backs are placed from',
    });
  }
  if (
    (intent.type === 'enqueue' || intent.type === 'dequeue' || intent.type === 'callback') &&
    config.QUEUES_STRICT &&
    !Object.hasOwn(config.QUEUES, intent.queue)
  ) {
    errors.push({
      field: 'queue',
      message: `no such queue; configured: ${Object.keys(config.QUEUES).join(', ') || '(none)'}`,
    });
  }
  if (intent.type === 'enqueue' && intent.overflow) {
    if (!isQueueTarget(intent.overflow)) {
      if (!hostAllowed(intent.overflow, config.TRANSFER_URL_ALLOWLIST))
        errors.push({ field: 'overflow', message: 'host is not on TRANSFER_URL_ALLOWLIST' });
    } else if (config.QUEUES_STRICT && !Object.hasOwn(config.QUEUES, intent.overflow)) {
      errors.push({ field: 'overflow', message: 'no such queue' });
    }
  }
  return errors;
}

function parseIntent(req: Request, config: Readonly<Config>, account: PlivoAccount): IntentInput {
  if (!req.is('application/json')) {
    throw new AppError('unsupported_media_type', 'send the intent as application/json', [
      { field: 'Content-Type', message: 'must be application/json' },
    ]);
  }
  const parsed = intentInput.safeParse(req.body, CLIENT_PARSE);
  if (!parsed.success)
    throw new AppError('validation_failed', 'the intent is not valid', fieldErrors(parsed.error.issues));
  const errors = configRules(parsed.data, config, account);
  if (errors.length > 0) throw new AppError('validation_failed', 'the intent is not valid', errors);
  return parsed.data;
}

function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new AppError('validation_failed', 'the Idempotency-Key header is not valid', [
      { field: 'Idempotency-Key', message: '1-255 visible ASCII characters' },
    ]);
  }
  return key;
}

/**
 * The answer to an accept: the intent with its Location, the headers `res.status().location().json()`
 * sets (Location, Content-Type, Content-Length, in that order) written by Node directly. Express's
 * res.json would parse and re-format the Content-Type and check freshness, which a POST never is.
 */
function sendIntent(res: Response, status: 200 | 202, record: IntentRecord): void {
  const body = JSON.stringify(viewOf(record));
  res.statusCode = status;
  res.setHeader('location', `/v1/intents/${record.id}`);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

/** The body parser of POST /v1/intents. */
export const intentBody = express.json({
  limit: BODY_LIMIT,
  strict: false,
  type: ['application/json', 'application/*+json'],
});

/**
 * POST /v1/intents for one account (the app picks the caller's account's, after `intentBody`). The
 * app mounts it ahead of the per-client request limiter, since the accept script counts intents itself.
 */
export function acceptIntentRoute(deps: IntentRoutesDeps): RequestHandler {
  const { config, account, store, jobs, metrics } = deps;
  const received = Object.fromEntries(INTENT_TYPES.map((type) => [type, metrics.intentsReceived.labels(type)]));

  const accept: RequestHandler = async (req, res) => {
    const key = idempotencyKey(req);
    const request = parseIntent(req, config, account);
    const limits = {
      transferBudget: account.transferBudget,
      perSecond: config.API_RATE_LIMIT_RPS,
      ...(request.type === 'enqueue'
        ? {
            queue: {
              name: request.queue,
              maxSize: resolveQueue(config.QUEUES, request.queue, config.HOLD_MUSIC_URL).max_size,
            },
          }
        : {}),
    };
    // One round trip: the record and its job are stored in one script (intent-store.ts).
    const client = res.locals.client as string;
    const cls = intentClass(request.type, config.API_KEY_CLASSES[client]);
    const result = await store.accept({ client, request, cls, idempotencyKey: key, limits });
    res.locals.intentId = result.kind === 'created' || result.kind === 'replayed' ? result.record.id : undefined;

    switch (result.kind) {
      case 'conflict':
        throw new AppError(
          'idempotency_conflict',
          `Idempotency-Key was used for intent ${result.intentId} with a different body`,
          [{ field: 'Idempotency-Key', message: 'already used with a different body' }],
        );
      case 'budget_spent':
        throw new AppError(
          'transfer_limit',
          `call ${orderingCall(request)} has used all ${account.transferBudget} transfers of its budget`,
          [{ field: request.type === 'dequeue' ? 'agent_call_uuid' : 'call_uuid', message: 'transfer budget spent' }],
        );
      case 'rate_limited':
        throw new AppError(
          'rate_limited',
          `more than ${config.API_RATE_LIMIT_RPS} intents per second for this key; slow down`,
          [{ field: 'Authorization', message: 'rate limit exceeded for this client' }],
          { headers: { 'retry-after': '1' } },
        );
      case 'queue_full':
        throw new AppError('queue_full', `queue ${limits.queue?.name} is full (${limits.queue?.maxSize} callers)`, [
          { field: 'queue', message: 'queue_full' },
        ]);
      case 'replayed':
        // A replay of an intent still queued also gives it its job back, should it have lost it (the sweeper would, later).
        if (result.record.status === 'queued') {
          const job = await addIntentJob(jobs, result.record);
          requestLog(res).info({ intentId: result.record.id, jobId: job.id }, 'intent replayed; job ensured');
        }
        sendIntent(res, 200, result.record);
        return;
      case 'created':
        received[request.type]!.inc();
        sendIntent(res, 202, result.record);
        return;
      case 'not_waiting':
        // Only the overflow handler claims a caller; an API accept never asks to.
        throw new Error('an API accept was refused for a claim it did not make');
    }
  };
  return accept;
}

/** Reading intents, the dead letters, and re-running a failed one. */
export function createIntentRoutes(deps: Pick<IntentRoutesDeps, 'store' | 'jobs'>): Router {
  const { store, jobs } = deps;
  const router = Router();

  async function load(rawId: unknown) {
    const id = String(rawId);
    if (!INTENT_ID.test(id)) throw new AppError('not_found', `no intent ${id.slice(0, 64)}`);
    const record = await store.get(id);
    if (!record) throw new AppError('not_found', `no intent ${id}`);
    return record;
  }

  router.get('/intents', async (req, res) => {
    const query = listQuery.safeParse(req.query, CLIENT_PARSE);
    if (!query.success)
      throw new AppError('validation_failed', 'the query is not valid', fieldErrors(query.error.issues));
    const { limit, cursor } = query.data;
    const { records, total } = await store.listFailed(cursor, limit);
    const next = cursor + limit < total ? String(cursor + limit) : null;
    res.json({ items: records.map(viewOf), total, next_cursor: next });
  });

  router.get('/intents/:id', async (req, res) => {
    res.json(viewOf(await load(req.params.id)));
  });

  // Re-running a dead letter is an operator's decision: admin keys only.
  router.post('/intents/:id/retry', requireRole('admin', 'retry dead letters (ADMIN_KEYS)'), async (req, res) => {
    const again = await retryIntent({ store, jobs }, await load(req.params.id));
    requestLog(res).info({ intentId: again.id, by: caller(res).client }, 'failed intent re-queued');
    res.status(202).location(`/v1/intents/${again.id}`).json(viewOf(again));
  });

  return router;
}

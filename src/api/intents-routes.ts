import express, { Router, type Request } from 'express';
import type { Config } from '../config.js';
import { AppError, type FieldError } from '../domain/errors.js';
import { intentInput, intentView, SAFE_ID, type IntentInput } from '../domain/intent.js';
import { disallowedTransferUrls } from '../domain/transfers.js';
import type { IntentStore } from '../infra/intent-store.js';
import { enqueueIntent, type IntentQueue } from '../infra/intent-queue.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { fieldErrors } from './problem.js';

export interface IntentRoutesDeps {
  config: Readonly<Config>;
  store: IntentStore;
  queue: IntentQueue;
  metrics: Metrics;
}

export const BODY_LIMIT = '16kb';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const INTENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Rules that need the configuration, checked after the schema: profiles and the transfer allowlist. */
function configRules(intent: IntentInput, config: Readonly<Config>): FieldError[] {
  const errors: FieldError[] = [];
  if (intent.type === 'hold' && intent.music && !(intent.music in config.HOLD_MUSIC_PROFILES) && intent.music !== 'default') {
    errors.push({ field: 'music', message: `unknown music profile; configured: default, ${Object.keys(config.HOLD_MUSIC_PROFILES).join(', ')}` });
  }
  for (const field of disallowedTransferUrls(intent, config.TRANSFER_URL_ALLOWLIST)) {
    errors.push({ field, message: `host is not on TRANSFER_URL_ALLOWLIST (${config.TRANSFER_URL_ALLOWLIST.join(', ')})` });
  }
  return errors;
}

function parseIntent(req: Request, config: Readonly<Config>): IntentInput {
  if (!req.is('application/json')) {
    throw new AppError('unsupported_media_type', 'send the intent as application/json', [
      { field: 'Content-Type', message: 'must be application/json' },
    ]);
  }
  const parsed = intentInput.safeParse(req.body);
  if (!parsed.success) throw new AppError('validation_failed', 'the intent is not valid', fieldErrors(parsed.error.issues));
  const errors = configRules(parsed.data, config);
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

export function createIntentRoutes(deps: IntentRoutesDeps): Router {
  const { config, store, queue, metrics } = deps;
  const router = Router();
  router.use(express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }));

  router.post('/intents', async (req, res) => {
    const key = idempotencyKey(req);
    const request = parseIntent(req, config);
    const client = res.locals.client as string;
    const log = res.locals.log as Logger;
    const result = await store.accept({ client, request, idempotencyKey: key });
    if (result.kind === 'conflict') {
      throw new AppError('idempotency_conflict', `Idempotency-Key was used for intent ${result.intentId} with a different body`, [
        { field: 'Idempotency-Key', message: 'already used with a different body' },
      ]);
    }
    if (result.kind === 'replayed') {
      // A replay also heals an accept whose job never made it into the queue.
      if (result.record.status === 'queued') await enqueueIntent(queue, result.record.id);
      res.status(200).location(`/v1/intents/${result.record.id}`).json(intentView(result.record));
      return;
    }
    try {
      await enqueueIntent(queue, result.record.id);
    } catch (err) {
      await store.unaccept(result.record, key).catch(() => undefined);
      throw new AppError('unavailable', 'the intent could not be queued; it was not accepted, retry shortly', [], {
        cause: err,
        headers: { 'retry-after': '1' },
      });
    }
    metrics.intentsReceived.labels(request.type).inc();
    log.info({ intentId: result.record.id, type: request.type, callUuid: request.call_uuid }, 'intent accepted');
    res.status(202).location(`/v1/intents/${result.record.id}`).json(intentView(result.record));
  });

  router.get('/intents/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!INTENT_ID.test(id) || !SAFE_ID.test(id)) throw new AppError('not_found', `no intent ${id.slice(0, 64)}`);
    const record = await store.get(id);
    if (!record) throw new AppError('not_found', `no intent ${id}`);
    res.json(intentView(record));
  });

  return router;
}

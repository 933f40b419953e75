import { Router, type RequestHandler } from 'express';
import { SAFE_ID } from '../domain/intent.js';
import type { Config } from '../config.js';
import type { CallStore } from '../infra/call-state.js';
import type { CallbackStore } from '../infra/callback-store.js';
import { EVENT_ROUTES } from '../domain/xml-links.js';
import { plivoParams } from './plivo-signature-check.js';
import { requestLog } from './request-observer.js';
import type { Metrics } from '../observability/metrics.js';

export interface EventRoutesDeps {
  config: Pick<Config, 'CALLBACK_RETRY_SECONDS' | 'CALLBACK_ATTEMPTS'>;
  /** The account whose calls these events are of (its metrics label). */
  account: { name: string };
  calls: CallStore;
  callbacks: CallbackStore;
  metrics: Metrics;
}

/**
 * Plivo's callbacks. Point your Plivo application's hangup URL at
 * `/plivo/events/hangup` (GET or POST, as the application is set): an ended call leaves its
 * queue (as abandoned) and its hold, so depths and positions never count ghost callers.
 * Signatures are checked by the /plivo middleware before these run; Plivo's parameters come as
 * a form body (POST) or in the query (GET).
 */
export function createEventRoutes(deps: EventRoutesDeps): Router {
  const { calls, metrics } = deps;
  const router = Router();

  const hangup: RequestHandler = async (req, res) => {
    const params = plivoParams(req);
    const uuid = params.CallUUID;
    if (uuid && SAFE_ID.test(uuid)) {
      const call = await calls.get(uuid);
      // A call holdq has accepted an intent for but not yet moved has no state yet: it ends too, so
      // the intent on its way cannot bring it back (apply_effect keeps an ended call ended).
      // A callback member hung up on purpose: it keeps its place (SPEC §10).
      if (call.state !== 'ended' && call.state !== 'callback' && call.tracked) {
        // One script: out of its queue (queue.left, the positions behind it), out of hold, ended.
        const { waitedMs } = await calls.apply(uuid, { state: 'ended', queue: null, held_legs: null }, call);
        if (call.queue && waitedMs !== null)
          metrics.queueWaitFor(deps.account.name, call.queue, 'abandoned').observe(waitedMs / 1000);
        if (call.state === 'on_hold' && call.since)
          metrics.holdDuration.observe(Math.max(0, (Date.now() - Date.parse(call.since)) / 1000));
        requestLog(res).info({ callUuid: uuid, was: call.state, hangupCause: params.HangupCause }, 'call ended');
      }
    }
    res.status(204).end();
  };
  router.route(EVENT_ROUTES.hangup).get(hangup).post(hangup);

  /**
   * Make Call's hangup_url (SPEC §10): the call-back attempt ended. Before an answer (busy,
   * no-answer, failed, or a hangup while ringing) the member goes back to its place, or leaves
   * after CALLBACK_ATTEMPTS; after an answer it is already served, and the script does nothing.
   */
  const callbackHangup: RequestHandler = async (req, res) => {
    const params = plivoParams(req);
    const name = String(req.params.name);
    const call = typeof req.query.call === 'string' ? req.query.call : '';
    const attempt = Number(req.query.attempt);
    if (SAFE_ID.test(name) && SAFE_ID.test(call) && Number.isInteger(attempt) && attempt >= 1) {
      const reason = (params.CallStatus || params.HangupCause || 'hangup').slice(0, 40);
      const outcome = await deps.callbacks.unanswered(name, call, attempt, reason, {
        retryMs: deps.config.CALLBACK_RETRY_SECONDS * 1000,
        maxAttempts: deps.config.CALLBACK_ATTEMPTS,
      });
      if (outcome) {
        metrics.callMeBack
          .labels({ account: deps.account.name, outcome: outcome === 'retry' ? 'unanswered' : 'failed' })
          .inc();
        requestLog(res).info({ callUuid: call, attempt, reason, outcome }, 'call back not answered');
      }
    }
    res.status(204).end();
  };
  router.route(EVENT_ROUTES.callbackHangup).get(callbackHangup).post(callbackHangup);

  router.post('/conference', (req, res) => {
    const params = plivoParams(req);
    requestLog(res).debug(
      { conference: params.ConferenceName, action: params.ConferenceAction, callUuid: params.CallUUID },
      'conference event',
    );
    res.status(204).end();
  });

  return router;
}

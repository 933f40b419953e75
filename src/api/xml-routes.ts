import express, { Router, type RequestHandler } from 'express';
import type { Config } from '../config.js';
import { AppError } from './errors.js';
import { E164, maskNumber, SAFE_ID } from '../domain/intent.js';
import { createXmlLinks, XML_ROUTES } from '../domain/xml-links.js';
import { plivoParams, publicUrl } from './plivo-signature-check.js';
import {
  bridgeXml,
  CALLBACK_DIGIT,
  callbackAnswerXml,
  callbackConfirmedXml,
  connectingXml,
  hangupXml,
  holdXml,
  idleXml,
  parkXml,
  queueXml,
  redirectXml,
} from '../domain/plivo-xml.js';
import { plivoMount, type PlivoAccount } from '../domain/account.js';
import { bridgeRoom } from '../domain/transfers.js';
import type { CallStore, FetchSeen } from '../infra/call-state.js';
import type { CallbackStore } from '../infra/callback-store.js';
import type { Metrics } from '../observability/metrics.js';
import type { QueueStore } from '../infra/queue-store.js';
import { resolveQueue } from '../domain/queue-config.js';
import { requestLog } from './request-observer.js';

export interface XmlRoutesDeps {
  config: Readonly<Config>;
  account: PlivoAccount;
  calls: CallStore;
  queues: QueueStore;
  callbacks: CallbackStore;
  metrics: Metrics;
}

/** Whether holdq can call back for this account: a caller id to call from (the simulator takes any). */
export const canCallBack = (config: Pick<Config, 'CALLBACK_CALLER_ID'>, account: Pick<PlivoAccount, 'simulated'>) =>
  config.CALLBACK_CALLER_ID !== undefined || account.simulated;

const ROOM = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

const sendXml = (res: express.Response, xml: string) => res.type('application/xml').send(xml);

export function createXmlRoutes(deps: XmlRoutesDeps): Router {
  const { config, calls, callbacks } = deps;
  const links = createXmlLinks(config.PUBLIC_BASE_URL, plivoMount(deps.account.name));
  const offering = canCallBack(config, deps.account);
  const counted = (outcome: string) => deps.metrics.callMeBack.labels({ account: deps.account.name, outcome }).inc();
  const router = Router();
  const queueCall = (req: express.Request) =>
    typeof req.query.call === 'string' && SAFE_ID.test(req.query.call) ? req.query.call : null;

  // GET and POST only, like Plivo's own XML fetches; anything else is a 405.
  const route = (path: string, handler: RequestHandler) =>
    router
      .route(path)
      .get(handler)
      .post(handler)
      .all((req, _res, next) =>
        next(new AppError('method_not_allowed', `${req.method} is not allowed here; use GET or POST`)),
      );

  const musicFor = (profile: unknown) =>
    typeof profile === 'string' && Object.hasOwn(config.HOLD_MUSIC_PROFILES, profile)
      ? config.HOLD_MUSIC_PROFILES[profile]!
      : config.HOLD_MUSIC_URL;

  /**
   * A fetch shows where a call is: a call whose state holdq lost (an intent cut short after it may
   * have reached Plivo) gets it back here. Best effort: the document is served whatever happens.
   */
  const confirm = async (res: express.Response, callUuid: unknown, seen: FetchSeen, fromNumber?: string) => {
    if (typeof callUuid !== 'string' || !SAFE_ID.test(callUuid)) return;
    try {
      if (await calls.seenByPlivo(callUuid, seen, fromNumber))
        requestLog(res).info({ callUuid, seen: seen.kind }, 'call state confirmed by a Plivo fetch');
    } catch (err) {
      requestLog(res).warn({ err, callUuid }, 'could not confirm the call state');
    }
  };

  route(XML_ROUTES.hold, async (req, res) => {
    await confirm(res, req.query.call, { kind: 'hold' });
    sendXml(res, holdXml(musicFor(req.query.music)));
  });

  route(XML_ROUTES.park, async (req, res) => {
    const call = req.query.call;
    const legUuid = plivoParams(req).CallUUID;
    // Plivo fetches the park XML as the B leg, with the B leg's own UUID: learn it, so unhold can move it later.
    if (typeof call === 'string' && SAFE_ID.test(call) && legUuid && SAFE_ID.test(legUuid) && legUuid !== call) {
      try {
        await calls.recordBleg(call, legUuid);
      } catch (err) {
        requestLog(res).warn({ err, callUuid: call }, 'could not record the B leg UUID');
      }
    }
    await confirm(res, call, { kind: 'hold' });
    sendXml(res, parkXml(publicUrl(config, req)));
  });

  route(XML_ROUTES.bridge, async (req, res) => {
    const room = String(req.params.room);
    if (!ROOM.test(room)) return sendXml(res, hangupXml());
    await confirm(res, plivoParams(req).CallUUID ?? (room.startsWith('holdq-') ? room.slice(6) : undefined), {
      kind: 'bridge',
    });
    sendXml(res, bridgeXml(room));
  });

  // Every loop of the waiting room re-reads the caller's place in line.
  route(XML_ROUTES.queue, async (req, res) => {
    const name = String(req.params.name);
    if (!SAFE_ID.test(name)) return sendXml(res, hangupXml());
    const settings = resolveQueue(config.QUEUES, name, config.HOLD_MUSIC_URL);
    const call = queueCall(req);
    const offer = call !== null && settings.callback && offering;
    // The number to call back by default: the caller's, as Plivo reports it, kept with the fetch.
    const from = plivoParams(req).From;
    await confirm(res, call, { kind: 'queue', queue: name }, offer && from && E164.test(from) ? from : undefined);
    let position: number | undefined;
    if (call && settings.announce_position) {
      position = (await deps.queues.position(name, call).catch(() => null)) ?? undefined;
    }
    let waitSeconds: number | undefined;
    if (call && settings.announce_wait) {
      // Every loop of the waiting room asks: the estimate only, not the window's outcomes.
      const stats = await deps.queues.stats(name, { member: call, outcomes: false }).catch(() => null);
      waitSeconds = stats?.members.get(call) ?? undefined;
    }
    sendXml(
      res,
      queueXml({
        musicUrl: settings.music_url,
        selfUrl: publicUrl(config, req),
        ...(settings.announcement ? { announcement: settings.announcement } : {}),
        ...(position !== undefined ? { position } : {}),
        ...(waitSeconds !== undefined ? { waitSeconds } : {}),
        ...(offer ? { callbackOfferUrl: links.callbackOffer(name, call) } : {}),
      }),
    );
  });

  // The caller pressed a key in the waiting room's offer (<GetDigits>'s action).
  route(XML_ROUTES.callbackOffer, async (req, res) => {
    const name = String(req.params.name);
    const call = queueCall(req);
    if (!SAFE_ID.test(name) || !call) return sendXml(res, hangupXml());
    const backToRoom = (message?: string) => sendXml(res, redirectXml(links.queue(name, call), message));
    if (plivoParams(req).Digits !== CALLBACK_DIGIT) return backToRoom();
    const asked = await callbacks.request(name, call, null);
    if (asked.kind === 'ok') {
      counted('requested');
      requestLog(res).info(
        { callUuid: call, queue: name, number: maskNumber(asked.number) },
        'caller asked for a call back',
      );
      return sendXml(res, callbackConfirmedXml(asked.number.slice(-4)));
    }
    if (asked.kind === 'no_number') {
      return backToRoom('Sorry, we cannot call you back at the number you are calling from.');
    }
    return backToRoom();
  });

  // A callback intent moved the caller here: its number, masked, then goodbye.
  route(XML_ROUTES.callbackConfirmed, async (req, res) => {
    const call = queueCall(req);
    const number = call ? await callbacks.number(call) : null;
    sendXml(res, number ? callbackConfirmedXml(number.slice(-4)) : hangupXml('Goodbye.'));
  });

  // The agent waits here while the customer's phone rings.
  route(XML_ROUTES.connecting, (req, res) => {
    const room = String(req.params.room);
    sendXml(res, ROOM.test(room) ? connectingXml(room) : hangupXml());
  });

  // Make Call's answer_url: the customer picked up.
  route(XML_ROUTES.callbackAnswer, async (req, res) => {
    const name = String(req.params.name);
    const call = queueCall(req);
    const attempt = Number(req.query.attempt);
    const leg = plivoParams(req).CallUUID ?? '';
    if (!SAFE_ID.test(name) || !call || !Number.isInteger(attempt) || attempt < 1) return sendXml(res, hangupXml());
    const connected = await callbacks.answered(name, call, attempt, SAFE_ID.test(leg) ? leg : '');
    if (!connected) {
      requestLog(res).info({ callUuid: call, attempt }, 'a call back was answered after holdq had moved on');
      return sendXml(res, hangupXml('Sorry, we could not connect this call. Goodbye.'));
    }
    counted('connected');
    requestLog(res).info({ callUuid: call, attempt, agent: connected.agent }, 'call back answered: connected');
    sendXml(res, callbackAnswerXml(bridgeRoom(call)));
  });

  // Where an agent waits when the dequeue that moved it found nobody left to connect.
  route(XML_ROUTES.idle, (req, res) => {
    const notice = req.query.notice === '1' ? 'Nobody could be reached. Please wait for the next caller.' : undefined;
    sendXml(res, idleXml(links.idle(), notice));
  });

  return router;
}

import express, { Router, type RequestHandler } from 'express';
import type { Config } from '../config.js';
import { AppError } from './errors.js';
import { SAFE_ID } from '../domain/intent.js';
import { XML_ROUTES } from '../domain/xml-links.js';
import { plivoParams, publicUrl } from './plivo-signature-check.js';
import { bridgeXml, hangupXml, holdXml, parkXml, queueXml } from '../domain/plivo-xml.js';
import type { CallStore, FetchSeen } from '../infra/call-state.js';
import type { QueueStore } from '../infra/queue-store.js';
import { resolveQueue } from '../domain/queue-config.js';
import { requestLog } from './request-observer.js';

export interface XmlRoutesDeps {
  config: Readonly<Config>;
  calls: CallStore;
  queues: QueueStore;
}

const ROOM = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

const sendXml = (res: express.Response, xml: string) => res.type('application/xml').send(xml);

export function createXmlRoutes(deps: XmlRoutesDeps): Router {
  const { config, calls } = deps;
  const router = Router();

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
  const confirm = async (res: express.Response, callUuid: unknown, seen: FetchSeen) => {
    if (typeof callUuid !== 'string' || !SAFE_ID.test(callUuid)) return;
    try {
      if (await calls.seenByPlivo(callUuid, seen))
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
    const call = typeof req.query.call === 'string' && SAFE_ID.test(req.query.call) ? req.query.call : null;
    await confirm(res, call, { kind: 'queue', queue: name });
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
      }),
    );
  });

  return router;
}

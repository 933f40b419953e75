import express, { Router, type Request, type RequestHandler } from 'express';
import type { Config } from '../config.js';
import { AppError } from './errors.js';
import { SAFE_ID } from '../domain/intent.js';
import { verifyV3, type SignatureParams } from '../domain/plivo-signature.js';
import { bridgeXml, hangupXml, holdXml, parkXml, queueXml } from '../domain/plivo-xml.js';
import type { CallStore, FetchSeen } from '../infra/call-state.js';
import type { QueueStore } from '../infra/queue-store.js';
import { resolveQueue } from '../domain/queue-config.js';
import { requestLog } from './middleware.js';

export interface XmlRoutesDeps {
  config: Readonly<Config>;
  calls: CallStore;
  queues: QueueStore;
}

const ROOM = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Plivo sends its parameters as a form body (POST) or in the query string (GET). */
function plivoParams(req: Request): Record<string, string> {
  const source = req.method === 'POST' && req.body && typeof req.body === 'object' ? req.body : req.query;
  // No prototype: a parameter named __proto__ must stay a parameter (it is signed like any other).
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(source as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * The URL Plivo called: our public base plus the path and query, so it verifies behind
 * proxies too. The server hands every request over in origin form (lifecycle.ts,
 * originFormOnly); anything else here would make no URL, so it is refused, never thrown.
 */
export function publicUrl(config: Readonly<Config>, req: Request): string {
  const target = req.originalUrl;
  if (!target.startsWith('/')) {
    throw new AppError('malformed_request_target', 'the request target is not a path', [{ field: '(request-target)', message: 'not a path' }]);
  }
  return `${config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${target}`;
}

/**
 * X-Plivo-Signature-V3 on every /plivo request when PLIVO_AUTH_TOKEN is set
 * (SPEC §4). GET signs the full URL with its query; POST signs the URL plus the
 * form fields.
 */
/**
 * Plivo's form bodies, parsed with URLSearchParams into an object without a
 * prototype: every field survives as sent (even one named __proto__), because
 * every field is signed.
 */
const formText = express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' });
const form: RequestHandler = (req, res, next) =>
  formText(req, res, (err?: unknown) => {
    if (err) return next(err);
    if (typeof req.body === 'string') {
      const fields = Object.create(null) as Record<string, string>;
      for (const [k, v] of new URLSearchParams(req.body)) fields[k] = v;
      req.body = fields;
    }
    next();
  });

export function plivoSignature(config: Readonly<Config>): RequestHandler[] {
  // The signature covers POST form fields, so they are parsed before it is checked.
  const verify: RequestHandler = (req, _res, next) => {
    const token = config.PLIVO_AUTH_TOKEN;
    if (!token) return next();
    const signature = req.get('x-plivo-signature-v3');
    const nonce = req.get('x-plivo-signature-v3-nonce');
    const method = req.method === 'GET' ? 'GET' : 'POST';
    const params: SignatureParams = method === 'POST' ? plivoParams(req) : {};
    if (!signature || !nonce || !verifyV3(token, method, publicUrl(config, req), nonce, signature, params)) {
      return next(new AppError('forbidden', 'missing or invalid X-Plivo-Signature-V3', [{ field: 'X-Plivo-Signature-V3', message: 'invalid' }]));
    }
    next();
  };
  return [form, verify];
}

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
      .all((req, _res, next) => next(new AppError('method_not_allowed', `${req.method} is not allowed here; use GET or POST`)));

  const musicFor = (profile: unknown) =>
    typeof profile === 'string' && Object.hasOwn(config.HOLD_MUSIC_PROFILES, profile) ? config.HOLD_MUSIC_PROFILES[profile]! : config.HOLD_MUSIC_URL;

  /**
   * A fetch shows where a call is: a call whose state holdq lost (an intent cut short after it may
   * have reached Plivo) gets it back here. Best effort: the document is served whatever happens.
   */
  const confirm = async (res: express.Response, callUuid: unknown, seen: FetchSeen) => {
    if (typeof callUuid !== 'string' || !SAFE_ID.test(callUuid)) return;
    try {
      if (await calls.seenByPlivo(callUuid, seen)) requestLog(res).info({ callUuid, seen: seen.kind }, 'call state confirmed by a Plivo fetch');
    } catch (err) {
      requestLog(res).warn({ err, callUuid }, 'could not confirm the call state');
    }
  };

  route('/hold', async (req, res) => {
    await confirm(res, req.query.call, { kind: 'hold' });
    sendXml(res, holdXml(musicFor(req.query.music)));
  });

  route('/park', async (req, res) => {
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

  route('/bridge/:room', async (req, res) => {
    const room = String(req.params.room);
    if (!ROOM.test(room)) return sendXml(res, hangupXml());
    await confirm(res, plivoParams(req).CallUUID ?? (room.startsWith('holdq-') ? room.slice(6) : undefined), { kind: 'bridge' });
    sendXml(res, bridgeXml(room));
  });

  // Every loop of the waiting room re-reads the caller's place in line.
  route('/queue/:name', async (req, res) => {
    const name = String(req.params.name);
    if (!SAFE_ID.test(name)) return sendXml(res, hangupXml());
    const settings = resolveQueue(config.QUEUES, name, config.HOLD_MUSIC_URL);
    const call = typeof req.query.call === 'string' && SAFE_ID.test(req.query.call) ? req.query.call : null;
    await confirm(res, call, { kind: 'queue', queue: name });
    let position: number | undefined;
    if (call && settings.announce_position) {
      position = (await deps.queues.position(name, call).catch(() => null)) ?? undefined;
    }
    sendXml(
      res,
      queueXml({
        musicUrl: settings.music_url,
        selfUrl: publicUrl(config, req),
        ...(settings.announcement ? { announcement: settings.announcement } : {}),
        ...(position !== undefined ? { position } : {}),
      }),
    );
  });

  return router;
}

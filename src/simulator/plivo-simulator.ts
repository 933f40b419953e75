import { randomInt, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import express, { type Request, type Response } from 'express';
import got from 'got';
import { signV3 } from '../domain/plivo-signature.js';
import {
  CHAOS_KINDS,
  DIAL_OUTCOMES,
  PLIVO_TRANSFER_CAP,
  SimulatorState,
  type ChaosKind,
  type DialFault,
  type DialedCall,
  type DialOutcome,
  type Fault,
  type LegDocument,
  type ReceivedTransfer,
  type SimulatedCall,
} from './simulator-state.js';

export type { DialFault, DialedCall, Fault, ReceivedTransfer, SimulatedCall } from './simulator-state.js';

/**
 * The built-in Plivo simulator: a real HTTP server with Plivo's Transfer a call
 * contract (docs/plivo.md). After a 202 it fetches the moved legs' XML
 * like Plivo, signed with X-Plivo-Signature-V3. Make Call (SPEC §10) rings for a while, then
 * fetches answer_url as the new call, or calls hangup_url as busy, no-answer or failed (a dial
 * fault), and calls hangup_url again when an answered call ends. Faults are injected through
 * `injectFault` or the `/_sim` control API, which has no auth: the simulator
 * listens on loopback unless told otherwise.
 */
export interface SimulatorOptions {
  port?: number;
  host?: string;
  authId?: string;
  authToken?: string;
  /** A transfer for an unknown call UUID creates that call (with a B leg) instead of a 404. */
  autoCreateCalls?: boolean;
  /** After a 202, fetch the legs' XML as Plivo does (default true). */
  fetchXml?: boolean;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface PlivoSimulator {
  url: string;
  port: number;
  authId: string;
  authToken: string;
  createCall(callUuid?: string, opts?: { blegUuid?: string | null }): SimulatedCall;
  endCall(callUuid: string): void;
  getCall(callUuid: string): SimulatedCall | undefined;
  injectFault(f: Fault): void;
  /** The next placed call(s) go as `outcome` instead of being answered. */
  injectDialFault(f: DialFault): void;
  /** How long placed calls ring before they are answered (or not). */
  setRingMs(ms: number): void;
  /** Calls placed with Make Call so far. */
  dials(): DialedCall[];
  waitForDials(n: number, timeoutMs?: number): Promise<DialedCall[]>;
  /** Waits until a placed call is settled: answered (its answer_url fetched) or not (hangup_url called). */
  waitForDialed(requestUuid: string, timeoutMs?: number): Promise<DialedCall>;
  setLatency(ms: number): void;
  received(): ReceivedTransfer[];
  waitForTransfers(n: number, timeoutMs?: number): Promise<ReceivedTransfer[]>;
  waitForXmlFetch(callUuid: string, timeoutMs?: number): Promise<SimulatedCall>;
  reset(): void;
  stop(): Promise<void>;
}

const LEGS = new Set(['aleg', 'bleg', 'both']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isHttpUrl = (v: unknown) => typeof v === 'string' && /^https?:\/\/[^\s]+$/i.test(v);
/** A Plivo XML document: an optional declaration, then one <Response> element. */
const PLIVO_RESPONSE = /^\s*(<\?xml\s[^>]*\?>\s*)?<Response(\s[^>]*)?(\/>|>[\s\S]*<\/Response>)\s*$/;

function plivoError(res: Response, status: number, error: string, headers: Record<string, string> = {}) {
  res.set(headers).status(status).json({ api_id: randomUUID(), error });
}

interface TransferBody {
  legs: 'aleg' | 'bleg' | 'both';
  aleg_url?: string;
  aleg_method: 'GET' | 'POST';
  bleg_url?: string;
  bleg_method: 'GET' | 'POST';
}

/** Plivo's own checks of a transfer body (the SDKs leave them to the server). */
function validate(raw: unknown): TransferBody | string {
  const b = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const legs = b.legs ?? 'aleg';
  if (typeof legs !== 'string' || !LEGS.has(legs)) return 'legs must be aleg, bleg or both';
  for (const m of ['aleg_method', 'bleg_method']) {
    if (b[m] !== undefined && b[m] !== 'GET' && b[m] !== 'POST') return `${m} must be GET or POST`;
  }
  if (legs !== 'bleg' && !isHttpUrl(b.aleg_url)) return 'aleg_url is required and must be a valid URL';
  if (legs !== 'aleg' && !isHttpUrl(b.bleg_url)) return 'bleg_url is required and must be a valid URL';
  return {
    legs: legs as TransferBody['legs'],
    aleg_url: b.aleg_url as string | undefined,
    aleg_method: (b.aleg_method as 'GET' | 'POST' | undefined) ?? 'POST',
    bleg_url: b.bleg_url as string | undefined,
    bleg_method: (b.bleg_method as 'GET' | 'POST' | undefined) ?? 'POST',
  };
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<PlivoSimulator> {
  const authId = opts.authId ?? 'SIMULATOR';
  const authToken = opts.authToken ?? 'simulator-token';
  const expectedAuth = `Basic ${Buffer.from(`${authId}:${authToken}`).toString('base64')}`;
  const state = new SimulatorState();
  const fetches = new Set<AbortController>();
  const sockets = new Set<Socket>();
  const http = got.extend({
    retry: { limit: 0 },
    timeout: { request: 5000 },
    throwHttpErrors: false,
    followRedirect: false,
  });

  /**
   * Fetches a leg's XML as Plivo does: form body for POST, query for GET, signed either way.
   * Like Plivo, a leg whose XML cannot be fetched (a connection error, a non-2xx answer, or a
   * body that is not a <Response> document) is hung up: the transfer was accepted, the call
   * ends, and later transfers for it get 404.
   */
  /** A request to one of the application's URLs as Plivo makes it: form body for POST, query for GET, signed either way. */
  function signedRequest(url: string, method: 'GET' | 'POST', params: Record<string, string>, signal: AbortSignal) {
    const nonce = String(randomInt(1e9, 1e10));
    const target = new URL(url);
    if (method === 'GET') for (const [k, v] of Object.entries(params)) target.searchParams.append(k, v);
    const signature =
      method === 'GET'
        ? signV3(authToken, 'GET', target.toString(), nonce)
        : signV3(authToken, 'POST', url, nonce, params);
    return http(target, {
      method,
      signal,
      headers: {
        'x-plivo-signature-v3': signature,
        'x-plivo-signature-ma-v3': signature,
        'x-plivo-signature-v3-nonce': nonce,
      },
      ...(method === 'POST' ? { form: params } : {}),
    });
  }

  async function fetchLeg(
    call: SimulatedCall,
    legUuid: string,
    url: string,
    method: 'GET' | 'POST',
    slot: 'current' | 'bleg_current',
    extra: Record<string, string> = {},
  ) {
    const params = {
      CallUUID: legUuid,
      From: '+15550001111',
      To: '+15550002222',
      CallStatus: 'in-progress',
      Direction: 'inbound',
      ...extra,
    };
    const doc: LegDocument = { url, method, xml: null, fetched_status: null, fetch_error: null };
    call[slot] = doc;
    const leg = state.calls.get(legUuid);
    if (leg && leg !== call) leg.current = doc;
    const abort = new AbortController();
    fetches.add(abort);
    try {
      const res = await signedRequest(url, method, params, abort.signal);
      doc.fetched_status = res.statusCode;
      doc.xml = res.body;
      if (res.statusCode < 200 || res.statusCode > 299) doc.fetch_error = `answered ${res.statusCode}`;
      else if (!PLIVO_RESPONSE.test(res.body)) doc.fetch_error = 'not a Plivo <Response> document';
    } catch (err) {
      doc.fetch_error = (err as Error).message;
    } finally {
      // A leg moved on meanwhile runs its newer document; only the current one's failure ends it.
      const current = leg && leg !== call ? leg.current : call[slot];
      if (doc.fetch_error !== null && current === doc && !abort.signal.aborted) {
        state.endCall(legUuid, `xml_fetch_failed: ${doc.fetch_error}`);
        opts.logger?.warn(
          { url, callUuid: legUuid, err: doc.fetch_error },
          'simulator: XML fetch failed; the call is hung up, as Plivo would',
        );
      }
      fetches.delete(abort);
      state.fetched(call.call_uuid);
      if (leg && leg !== call) state.fetched(legUuid);
    }
  }

  async function transfer(req: Request, res: Response) {
    const callUuid = String(req.params.callUuid);
    const entry: ReceivedTransfer = {
      at: Date.now(),
      call_uuid: callUuid,
      auth: req.get('authorization') ?? null,
      path: req.path,
      contentType: req.get('content-type') ?? null,
      body: req.body,
      status: 0,
      api_id: null,
    };
    const answer = (status: number, send: () => void) => {
      entry.status = status;
      state.record(entry);
      send();
    };
    if (req.method !== 'POST') return answer(405, () => plivoError(res, 405, 'method not allowed'));
    if (req.get('authorization') !== expectedAuth || req.params.authId !== authId) {
      return answer(401, () => plivoError(res, 401, 'authentication failed'));
    }
    const fault = state.takeFault(callUuid);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.timeout) return state.record(entry); // never answer: the client times out
    if (fault?.reset) {
      state.record(entry);
      req.socket.destroy();
      return;
    }
    if (state.latencyMs > 0) await sleep(state.latencyMs);
    if (fault?.status) {
      const headers: Record<string, string> = fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
      return answer(fault.status, () => plivoError(res, fault.status!, `simulated ${fault.status}`, headers));
    }
    const body = validate(req.body);
    if (typeof body === 'string') return answer(400, () => plivoError(res, 400, body));
    let call = state.calls.get(callUuid);
    if (!call && opts.autoCreateCalls) call = state.createCall(callUuid, { blegUuid: `${callUuid}-bleg` });
    if (!call || call.status === 'ended') return answer(404, () => plivoError(res, 404, 'Resource cannot be found'));
    if (body.legs !== 'aleg' && !call.bleg_uuid) return answer(400, () => plivoError(res, 400, 'call has no B leg'));
    call.transfers += 1;
    if (call.transfers > PLIVO_TRANSFER_CAP) {
      state.endCall(callUuid, 'loop_detected');
      return answer(404, () => plivoError(res, 404, 'Loop detected'));
    }
    entry.api_id = randomUUID();
    answer(202, () => res.status(202).json({ message: 'call transferred', api_id: entry.api_id }));
    if (opts.fetchXml === false) return;
    if (body.legs !== 'aleg' && call.bleg_uuid && !state.calls.has(call.bleg_uuid)) {
      // Once moved, the B leg is a call of its own for later transfers.
      state.createCall(call.bleg_uuid);
    }
    if (body.legs !== 'bleg') void fetchLeg(call, callUuid, body.aleg_url!, body.aleg_method, 'current');
    if (body.legs !== 'aleg') void fetchLeg(call, call.bleg_uuid!, body.bleg_url!, body.bleg_method, 'bleg_current');
  }

  /** Plivo's call to a placed call's hangup_url; best effort, like Plivo's. */
  async function hangupCallback(dial: DialedCall, params: Record<string, string>) {
    if (!dial.hangup_url) return;
    const abort = new AbortController();
    fetches.add(abort);
    try {
      await signedRequest(dial.hangup_url, 'POST', params, abort.signal);
    } catch (err) {
      opts.logger?.warn({ url: dial.hangup_url, err: (err as Error).message }, 'simulator: hangup_url failed');
    } finally {
      fetches.delete(abort);
    }
  }
  const HANGUP_CAUSES: Record<DialOutcome, string> = {
    busy: 'USER_BUSY',
    'no-answer': 'NO_ANSWER',
    failed: 'CALL_REJECTED',
    lost: '',
  };
  /** Calls placed with Make Call, by their CallUUID once answered (their hangup calls hangup_url). */
  const dialedByCall = new Map<string, DialedCall>();

  /** A placed call rings, then is answered (answer_url fetched as the new call) or not (hangup_url). */
  async function ring(dial: DialedCall, outcome: DialOutcome | null) {
    await sleep(state.ringMs);
    const params = { From: dial.from, To: dial.to, Direction: 'outbound', RequestUUID: dial.request_uuid };
    if (outcome === 'lost') {
      dial.status = 'lost';
      return state.dialed(dial);
    }
    if (outcome) {
      dial.status = outcome;
      await hangupCallback(dial, {
        ...params,
        CallUUID: randomUUID(),
        CallStatus: outcome,
        HangupCause: HANGUP_CAUSES[outcome],
        Duration: '0',
      });
      return state.dialed(dial);
    }
    const callUuid = randomUUID();
    const call = state.createCall(callUuid);
    dial.call_uuid = callUuid;
    dial.status = 'answered';
    dialedByCall.set(callUuid, dial);
    await fetchLeg(call, callUuid, dial.answer_url, 'POST', 'current', { ...params, CallStatus: 'in-progress' });
    state.dialed(dial);
  }

  /** Ends a call; a placed one calls its hangup_url, as Plivo does. */
  function endCall(callUuid: string) {
    const call = state.calls.get(callUuid);
    const wasLive = call?.status === 'live';
    state.endCall(callUuid);
    const dial = dialedByCall.get(callUuid);
    if (wasLive && dial)
      void hangupCallback(dial, {
        CallUUID: callUuid,
        From: dial.from,
        To: dial.to,
        Direction: 'outbound',
        RequestUUID: dial.request_uuid,
        CallStatus: 'completed',
        HangupCause: 'NORMAL_CLEARING',
      });
  }

  /** Make Call (POST …/Call/), as plivo-node's calls.create sends it: 201 "call fired", then the call rings. */
  function makeCall(req: Request, res: Response) {
    if (req.get('authorization') !== expectedAuth || req.params.authId !== authId)
      return plivoError(res, 401, 'authentication failed');
    const b = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const e164 = (v: unknown) => typeof v === 'string' && /^\+?[1-9][0-9]{6,14}$/.test(v);
    if (!e164(b.from)) return plivoError(res, 400, 'from is required and must be a phone number');
    if (!e164(b.to)) return plivoError(res, 400, 'to is required and must be a phone number');
    if (!isHttpUrl(b.answer_url)) return plivoError(res, 400, 'answer_url is required and must be a valid URL');
    if (b.hangup_url !== undefined && !isHttpUrl(b.hangup_url))
      return plivoError(res, 400, 'hangup_url must be a valid URL');
    const dial: DialedCall = {
      request_uuid: randomUUID(),
      at: Date.now(),
      from: String(b.from),
      to: String(b.to),
      answer_url: String(b.answer_url),
      hangup_url: typeof b.hangup_url === 'string' ? b.hangup_url : null,
      ring_timeout: typeof b.ring_timeout === 'number' ? b.ring_timeout : null,
      status: 'ringing',
      call_uuid: null,
    };
    state.dials.push(dial);
    state.emit('dialing', dial);
    res.status(201).json({ message: 'call fired', request_uuid: dial.request_uuid, api_id: randomUUID() });
    void ring(dial, state.takeDialFault());
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('strict routing', true); // Plivo routes only the trailing-slash form
  // The live-call list, as plivo-node's calls.listLive asks for it (reconciliation, SPEC §11).
  app.get('/v1/Account/:authId/Call/', (req, res) => {
    if (req.get('authorization') !== expectedAuth || req.params.authId !== authId)
      return plivoError(res, 401, 'authentication failed');
    if (req.query.status !== 'live') return plivoError(res, 400, 'only status=live is simulated');
    const calls = [...state.calls.values()].filter((c) => c.status === 'live').map((c) => c.call_uuid);
    res.json({ api_id: randomUUID(), calls });
  });
  app.post('/v1/Account/:authId/Call/', express.json({ limit: '64kb' }), makeCall);
  app.all(
    '/v1/Account/:authId/Call/:callUuid/',
    express.json({ limit: '64kb' }),
    express.urlencoded({ extended: false }),
    transfer,
  );

  const control = express.Router();
  control.use(express.json());
  control.post('/calls', (req, res) => {
    const b = (req.body ?? {}) as { call_uuid?: string; bleg_uuid?: string };
    res.status(201).json(state.createCall(b.call_uuid, { blegUuid: b.bleg_uuid ?? null }));
  });
  control.get('/calls/:uuid', (req, res) => {
    const call = state.calls.get(req.params.uuid);
    if (call) res.json(call);
    else res.status(404).json({ error: 'no such call' });
  });
  control.post('/calls/:uuid/hangup', (req, res) => {
    endCall(req.params.uuid);
    res.json(state.calls.get(req.params.uuid) ?? { error: 'no such call' });
  });
  // The caller presses keys: the <GetDigits> of what its leg runs now posts them to its action, as Plivo does.
  control.post('/calls/:uuid/digits', async (req, res) => {
    const call = state.calls.get(req.params.uuid);
    const digits = String((req.body as { digits?: unknown })?.digits ?? '');
    if (!call || call.status !== 'live') return res.status(404).json({ error: 'no such live call' });
    if (!/^[0-9*#]{1,20}$/.test(digits)) return res.status(400).json({ error: 'digits: 1-20 of 0-9 * #' });
    const action = /<GetDigits\b[^>]*\baction="([^"]+)"/.exec(call.current?.xml ?? '')?.[1];
    if (!action) return res.status(409).json({ error: 'the call is not in a <GetDigits>' });
    const url = action
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    await fetchLeg(call, call.call_uuid, url, 'POST', 'current', { Digits: digits });
    if (/<Hangup\s*\/>/.test(call.current?.xml ?? '')) endCall(call.call_uuid);
    res.json(state.calls.get(call.call_uuid));
  });
  control.post('/faults', (req, res) => {
    state.injectFault(req.body as Fault);
    res.status(204).end();
  });
  control.post('/dial-faults', (req, res) => {
    const b = (req.body ?? {}) as { outcome?: unknown; times?: unknown };
    if (!DIAL_OUTCOMES.includes(b.outcome as DialOutcome))
      return res.status(400).json({ error: `outcome must be one of ${DIAL_OUTCOMES.join(', ')}` });
    state.injectDialFault({ outcome: b.outcome as DialOutcome, times: Number(b.times) || 1 });
    res.status(204).end();
  });
  control.post('/ring', (req, res) => {
    state.ringMs = Math.max(0, Number((req.body as { ms?: unknown }).ms) || 0);
    res.status(204).end();
  });
  control.get('/dials', (_req, res) => {
    res.json(state.dials);
  });
  control.post('/latency', (req, res) => {
    state.latencyMs = Number((req.body as { ms?: unknown }).ms) || 0;
    res.status(204).end();
  });
  control.post('/chaos', (req, res) => {
    const b = (req.body ?? {}) as { rate?: unknown; retryAfter?: unknown; kinds?: unknown };
    const kinds = Array.isArray(b.kinds)
      ? b.kinds.filter((k): k is ChaosKind => CHAOS_KINDS.includes(k as ChaosKind))
      : [...CHAOS_KINDS];
    state.chaos = {
      rate: Math.min(Math.max(Number(b.rate) || 0, 0), 1),
      retryAfter: String(b.retryAfter ?? '1'),
      kinds,
    };
    res.status(204).end();
  });
  control.get('/transfers', (_req, res) => {
    res.json(state.requests);
  });
  control.post('/reset', (_req, res) => {
    state.reset();
    res.status(204).end();
  });
  app.use('/_sim', control);
  app.use((req, res) => plivoError(res, 404, `not found: ${req.method} ${req.path}`));

  const host = opts.host ?? '127.0.0.1';
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = (server.address() as { port: number }).port;
  let stopped: Promise<void> | null = null;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    authId,
    authToken,
    createCall: (uuid, o) => state.createCall(uuid, o),
    endCall,
    getCall: (uuid) => state.calls.get(uuid),
    injectFault: (f) => state.injectFault(f),
    injectDialFault: (f) => state.injectDialFault(f),
    setRingMs: (ms) => {
      state.ringMs = ms;
    },
    dials: () => [...state.dials],
    waitForDials: (n, timeoutMs = 10_000) =>
      state.waitFor(
        'dialing',
        () => (state.dials.length >= n ? [...state.dials] : undefined),
        timeoutMs,
        `${n} placed calls`,
      ),
    waitForDialed: (requestUuid, timeoutMs = 10_000) =>
      state.waitFor(
        'dial',
        () => {
          const d = state.dials.find((x) => x.request_uuid === requestUuid);
          return d && d.status !== 'ringing' ? d : undefined;
        },
        timeoutMs,
        `placed call ${requestUuid} to be settled`,
      ),
    setLatency: (ms) => {
      state.latencyMs = ms;
    },
    received: () => [...state.requests],
    waitForTransfers: (n, timeoutMs = 10_000) =>
      state.waitFor(
        'transfer',
        () => (state.requests.length >= n ? [...state.requests] : undefined),
        timeoutMs,
        `${n} transfers`,
      ),
    waitForXmlFetch: (uuid, timeoutMs = 10_000) =>
      state.waitFor(
        'fetched',
        () => {
          const call = state.calls.get(uuid);
          const done = (d: LegDocument | null) => !d || d.fetched_status !== null || d.fetch_error !== null;
          return call && (call.current || call.bleg_current) && done(call.current) && done(call.bleg_current)
            ? call
            : undefined;
        },
        timeoutMs,
        `the XML fetch of call ${uuid}`,
      ),
    reset: () => state.reset(),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const f of fetches) f.abort();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return stopped;
    },
  };
}

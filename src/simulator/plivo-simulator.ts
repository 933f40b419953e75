import { randomInt, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import express, { type Request, type Response } from 'express';
import got from 'got';
import { signV3 } from '../domain/plivo-signature.js';
import {
  CHAOS_KINDS,
  PLIVO_TRANSFER_CAP,
  SimulatorState,
  type ChaosKind,
  type Fault,
  type LegDocument,
  type ReceivedTransfer,
  type SimulatedCall,
} from './simulator-state.js';

export type { Fault, ReceivedTransfer, SimulatedCall } from './simulator-state.js';

/**
 * The built-in Plivo simulator: a real HTTP server with Plivo's Transfer a call
 * contract (docs/plivo.md). After a 202 it fetches the moved legs' XML
 * like Plivo, signed with X-Plivo-Signature-V3. Faults are injected through
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
  async function fetchLeg(
    call: SimulatedCall,
    legUuid: string,
    url: string,
    method: 'GET' | 'POST',
    slot: 'current' | 'bleg_current',
  ) {
    const params = {
      CallUUID: legUuid,
      From: '+15550001111',
      To: '+15550002222',
      CallStatus: 'in-progress',
      Direction: 'inbound',
    };
    const nonce = String(randomInt(1e9, 1e10));
    const target = new URL(url);
    if (method === 'GET') for (const [k, v] of Object.entries(params)) target.searchParams.append(k, v);
    const signature =
      method === 'GET'
        ? signV3(authToken, 'GET', target.toString(), nonce)
        : signV3(authToken, 'POST', url, nonce, params);
    const doc: LegDocument = { url, method, xml: null, fetched_status: null, fetch_error: null };
    call[slot] = doc;
    const leg = state.calls.get(legUuid);
    if (leg && leg !== call) leg.current = doc;
    const abort = new AbortController();
    fetches.add(abort);
    try {
      const res = await http(target, {
        method,
        signal: abort.signal,
        headers: {
          'x-plivo-signature-v3': signature,
          'x-plivo-signature-ma-v3': signature,
          'x-plivo-signature-v3-nonce': nonce,
        },
        ...(method === 'POST' ? { form: params } : {}),
      });
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
    state.endCall(req.params.uuid);
    res.json(state.calls.get(req.params.uuid) ?? { error: 'no such call' });
  });
  control.post('/faults', (req, res) => {
    state.injectFault(req.body as Fault);
    res.status(204).end();
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
    endCall: (uuid) => state.endCall(uuid),
    getCall: (uuid) => state.calls.get(uuid),
    injectFault: (f) => state.injectFault(f),
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

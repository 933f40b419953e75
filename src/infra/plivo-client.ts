import http from 'node:http';
import https from 'node:https';
import got, { type Got } from 'got';
import type { TransferRequest } from '../domain/transfers.js';

/**
 * Plivo's Transfer a call, Make Call and the live-call list (docs/plivo.md), and nothing else. got makes exactly one
 * attempt per call: BullMQ is the only retry layer, so a transfer is never
 * multiplied by nested retries (plivo-node's own 5xx retry, three attempts in all, can apply one three times).
 */

export type RetryReason = 'timeout' | 'network_error' | 'http_5xx' | 'http_429' | 'http_408';

export type TransferOutcome =
  | { kind: 'accepted'; status: number; apiId: string | null }
  | { kind: 'retryable'; status: number | null; reason: RetryReason; retryAfterMs: number | null; message: string }
  | { kind: 'rejected'; status: number; message: string };

/** The account's live calls (GET …/Call/?status=live, as plivo-node's calls.listLive sends it), or why not. */
export type LiveCalls =
  | { kind: 'ok'; calls: Set<string>; statusLabel: string }
  | { kind: 'error'; message: string; retryAfterMs: number | null; statusLabel: string };

/** Plivo's Make Call (SPEC §10), the body plivo-node's calls.create(from, to, answerUrl, params) sends. */
export interface MakeCallRequest {
  from: string;
  to: string;
  answer_url: string;
  answer_method: 'POST';
  hangup_url: string;
  hangup_method: 'POST';
  ring_timeout: number;
}

export type MakeCallOutcome = TransferOutcome & { requestUuid: string | null; durationMs: number; statusLabel: string };

export interface PlivoClient {
  transfer(req: TransferRequest): Promise<TransferOutcome & { durationMs: number; statusLabel: string }>;
  /** Places a call (POST …/Call/): 201 "call fired"; the call's own UUID comes with Plivo's fetch of answer_url. */
  makeCall(req: MakeCallRequest): Promise<MakeCallOutcome>;
  listLive(): Promise<LiveCalls>;
  close(): void;
}

export interface PlivoClientOptions {
  baseUrl: string;
  authId: string;
  authToken: string;
  timeoutMs: number;
  maxSockets?: number;
}

/** Retry-After is either delta-seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 200);
}

export function classify(status: number, body: string, retryAfter: string | undefined): TransferOutcome {
  if (status >= 200 && status < 300) {
    let apiId: string | null = null;
    try {
      const parsed = JSON.parse(body) as { api_id?: unknown };
      if (typeof parsed.api_id === 'string') apiId = parsed.api_id;
    } catch {
      // Any 2xx is success whatever the body says (docs/plivo.md).
    }
    return { kind: 'accepted', status, apiId };
  }
  const message = `Plivo answered ${status}: ${errorText(body)}`;
  if (status === 429 || status === 408 || status >= 500) {
    const reason: RetryReason = status === 429 ? 'http_429' : status === 408 ? 'http_408' : 'http_5xx';
    return { kind: 'retryable', status, reason, retryAfterMs: parseRetryAfter(retryAfter), message };
  }
  return { kind: 'rejected', status, message };
}

/** A request that got no answer (a timeout, a broken connection): retryable, as it may not have reached Plivo. */
function noAnswer(err: unknown, what: string, started: number) {
  const e = err as { code?: string; name?: string; message?: string };
  const timedOut = e.name === 'TimeoutError' || e.code === 'ETIMEDOUT';
  return {
    kind: 'retryable' as const,
    status: null,
    reason: timedOut ? ('timeout' as const) : ('network_error' as const),
    retryAfterMs: null,
    message: `${timedOut ? 'timeout' : 'network error'} ${what}: ${e.code ?? e.message ?? 'unknown'}`,
    durationMs: performance.now() - started,
    statusLabel: timedOut ? 'timeout' : 'network_error',
  };
}

export function createPlivoClient(opts: PlivoClientOptions): PlivoClient {
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 256, scheduling: 'lifo' as const };
  const agent = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const authorization = `Basic ${Buffer.from(`${opts.authId}:${opts.authToken}`).toString('base64')}`;
  const client: Got = got.extend({
    prefixUrl: opts.baseUrl.replace(/\/+$/, ''),
    agent,
    retry: { limit: 0 },
    timeout: { request: opts.timeoutMs },
    throwHttpErrors: false,
    followRedirect: false,
    headers: { authorization, 'user-agent': 'holdq' },
  });
  const account = encodeURIComponent(opts.authId);

  return {
    async transfer(req) {
      const { call_uuid, ...body } = req;
      const started = performance.now();
      try {
        // The trailing slash is part of Plivo's route; every SDK sends it.
        const res = await client.post(`v1/Account/${account}/Call/${encodeURIComponent(call_uuid)}/`, { json: body });
        const outcome = classify(res.statusCode, res.body, res.headers['retry-after']);
        return { ...outcome, durationMs: performance.now() - started, statusLabel: String(res.statusCode) };
      } catch (err) {
        return noAnswer(err, 'talking to Plivo', started);
      }
    },
    async makeCall(req) {
      const started = performance.now();
      try {
        const res = await client.post(`v1/Account/${account}/Call/`, { json: req });
        const outcome = classify(res.statusCode, res.body, res.headers['retry-after']);
        let requestUuid: string | null = null;
        try {
          const parsed = JSON.parse(res.body) as { request_uuid?: unknown };
          if (typeof parsed.request_uuid === 'string') requestUuid = parsed.request_uuid;
        } catch {
          // no body to read: the outcome says enough
        }
        return {
          ...outcome,
          requestUuid,
          durationMs: performance.now() - started,
          statusLabel: String(res.statusCode),
        };
      } catch (err) {
        return { ...noAnswer(err, 'placing a call', started), requestUuid: null };
      }
    },
    async listLive() {
      try {
        const res = await client.get(`v1/Account/${account}/Call/`, { searchParams: { status: 'live' } });
        const statusLabel = String(res.statusCode);
        if (res.statusCode !== 200)
          return {
            kind: 'error',
            message: `Plivo answered ${res.statusCode}: ${errorText(res.body)}`,
            retryAfterMs: parseRetryAfter(res.headers['retry-after']),
            statusLabel,
          };
        // Anything but a list of strings is an error: dropping callers on a body misread would be worse.
        const parsed = JSON.parse(res.body) as { calls?: unknown };
        if (!Array.isArray(parsed.calls) || !parsed.calls.every((c) => typeof c === 'string'))
          return { kind: 'error', message: 'Plivo answered 200 without a calls list', retryAfterMs: null, statusLabel };
        return { kind: 'ok', calls: new Set(parsed.calls as string[]), statusLabel };
      } catch (err) {
        const e = err as { code?: string; name?: string; message?: string };
        const timedOut = e.name === 'TimeoutError' || e.code === 'ETIMEDOUT';
        return {
          kind: 'error',
          message: `${timedOut ? 'timeout' : 'error'} listing live calls: ${e.code ?? e.message ?? 'unknown'}`,
          retryAfterMs: null,
          statusLabel: timedOut ? 'timeout' : 'network_error',
        };
      }
    },
    close() {
      agent.http.destroy();
      agent.https.destroy();
    },
  };
}

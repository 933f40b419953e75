import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

/**
 * The typed holdq client (SPEC §13). Its types are generated from holdq's /openapi.json by
 * openapi-typescript (`npm run client:generate`, into schema.ts; CI fails when that file is
 * stale), and its requests go through openapi-fetch, so every path, body and answer is the
 * document's. Beside the raw client (`api`), helpers for what integrations do: post an intent
 * with an idempotency key, wait for it to finish, follow the event stream and resume it.
 */
export type Intent = components['schemas']['Intent'];
export type IntentRequest = components['schemas']['IntentRequest'];
export type Queue = components['schemas']['Queue'];
export type QueuePage = components['schemas']['QueuePage'];
export type Call = components['schemas']['Call'];
export type HeldCallPage = components['schemas']['HeldCallPage'];
export type DeadLetterPage = components['schemas']['DeadLetterPage'];
export type Problem = components['schemas']['Problem'];
export type HoldqEvent = components['schemas']['Event'];

export const TERMINAL_STATUSES = ['completed', 'failed', 'superseded'] as const;

/** An answer that is not a success: its status and the API's problem document (when it sent one). */
export class HoldqError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    message?: string,
  ) {
    super(message ?? (problem ? `${problem.title}: ${problem.detail}` : `holdq answered ${status}`));
    this.name = 'HoldqError';
  }
}

export interface ClientOptions {
  /** holdq's base URL, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}

function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.data !== undefined && r.response.ok) return r.data;
  const problem = r.error && typeof r.error === 'object' ? (r.error as Problem) : null;
  throw new HoldqError(r.response.status, problem);
}

export function createHoldqClient(opts: ClientOptions) {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const auth = { authorization: `Bearer ${opts.apiKey}` };
  const api = createClient<paths>({ baseUrl, headers: auth, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const doFetch = opts.fetch ?? fetch;

  const client = {
    /** The generated client: every route of the document, typed. */
    api,

    /** Posts an intent; with `idempotencyKey`, a retry of the same post answers the same intent. */
    async postIntent(body: IntentRequest, o: { idempotencyKey?: string } = {}): Promise<Intent> {
      return unwrap(
        await api.POST('/v1/intents', {
          body,
          ...(o.idempotencyKey ? { params: { header: { 'Idempotency-Key': o.idempotencyKey } } } : {}),
        } as never),
      ) as Intent;
    },

    async getIntent(id: string): Promise<Intent> {
      return unwrap(await api.GET('/v1/intents/{id}', { params: { path: { id } } })) as Intent;
    },

    /**
     * Polls an intent until it is completed, failed or superseded (or `timeoutMs` passes, which
     * throws); `onProgress` hears each state it sees.
     */
    async waitForIntent(
      id: string,
      o: { timeoutMs?: number; intervalMs?: number; onProgress?: (i: Intent) => void; signal?: AbortSignal } = {},
    ): Promise<Intent> {
      const deadline = Date.now() + (o.timeoutMs ?? 60_000);
      for (;;) {
        const intent = await client.getIntent(id);
        o.onProgress?.(intent);
        if ((TERMINAL_STATUSES as readonly string[]).includes(intent.status)) return intent;
        if (Date.now() > deadline)
          throw new Error(`intent ${id} still ${intent.status} after ${o.timeoutMs ?? 60_000} ms`);
        o.signal?.throwIfAborted();
        await new Promise((r) => setTimeout(r, o.intervalMs ?? 250));
      }
    },

    async getCall(callUuid: string): Promise<Call> {
      return unwrap(await api.GET('/v1/calls/{call_uuid}', { params: { path: { call_uuid: callUuid } } })) as Call;
    },

    /** Calls on hold, longest held first. */
    async listHeldCalls(o: { limit?: number; cursor?: string } = {}): Promise<HeldCallPage> {
      return unwrap(await api.GET('/v1/calls', { params: { query: { state: 'held', ...o } } })) as HeldCallPage;
    },

    async listQueues(o: { limit?: number; cursor?: string } = {}): Promise<QueuePage> {
      return unwrap(await api.GET('/v1/queues', { params: { query: o } })) as QueuePage;
    },

    async getQueue(name: string): Promise<Queue> {
      return unwrap(await api.GET('/v1/queues/{name}', { params: { path: { name } } })) as Queue;
    },

    async deadLetters(o: { limit?: number; cursor?: number } = {}): Promise<DeadLetterPage> {
      return unwrap(
        await api.GET('/v1/intents', { params: { query: { status: 'failed', ...o } } } as never),
      ) as DeadLetterPage;
    },

    async retry(id: string): Promise<Intent> {
      return unwrap(await api.POST('/v1/intents/{id}/retry', { params: { path: { id } } })) as Intent;
    },

    /**
     * Follows GET /v1/events: yields each event with its id, reconnecting after a drop (an API
     * restart, a proxy's timeout) with the last id seen as Last-Event-ID, so nothing is missed or
     * seen twice. Ends when `signal` aborts; a 4xx answer (a bad filter, a bad key) throws.
     */
    async *events(
      o: {
        queue?: string;
        callUuid?: string;
        types?: string[];
        lastEventId?: string;
        signal?: AbortSignal;
        retryMs?: number;
      } = {},
    ): AsyncGenerator<{ id: string | null; event: HoldqEvent }> {
      let lastId = o.lastEventId ?? null;
      const query = new URLSearchParams();
      if (o.queue) query.set('queue', o.queue);
      if (o.callUuid) query.set('call_uuid', o.callUuid);
      if (o.types?.length) query.set('types', o.types.join(','));
      const url = `${baseUrl}/v1/events${query.size > 0 ? `?${query}` : ''}`;
      // Its own signal, so a caller that stops iterating (break) also closes the connection.
      const inner = new AbortController();
      const stop = () => inner.abort();
      o.signal?.addEventListener('abort', stop, { once: true });
      try {
        yield* follow();
      } finally {
        o.signal?.removeEventListener('abort', stop);
        inner.abort();
      }
      async function* follow(): AsyncGenerator<{ id: string | null; event: HoldqEvent }> {
        while (!inner.signal.aborted) {
          let res: Response;
          try {
            res = await doFetch(url, {
              headers: { ...auth, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
              signal: inner.signal,
            });
          } catch {
            // holdq unreachable (restarting, say): try again, from the last id seen
            if (inner.signal.aborted) return;
            await new Promise((r) => setTimeout(r, o.retryMs ?? 1000));
            continue;
          }
          if (res.status >= 400 && res.status < 500) {
            const problem = (await res.json().catch(() => null)) as Problem | null;
            throw new HoldqError(res.status, problem);
          }
          if (!res.ok || !res.body) {
            await new Promise((r) => setTimeout(r, o.retryMs ?? 1000));
            continue;
          }
          try {
            for await (const e of parseEventStream(res.body)) {
              if (e.id) lastId = e.id;
              yield { id: e.id, event: JSON.parse(e.data) as HoldqEvent };
            }
          } catch {
            if (inner.signal.aborted) return;
          }
          if (inner.signal.aborted) return;
          await new Promise((r) => setTimeout(r, o.retryMs ?? 1000));
        }
      }
    },
  };
  return client;
}
export type HoldqClient = ReturnType<typeof createHoldqClient>;

/** Server-Sent Events, parsed as the HTML standard says (comments and `retry:` aside). */
export async function* parseEventStream(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ id: string | null; event: string; data: string }> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let id: string | null = null;
  let event = '';
  let data: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) yield { id, event: event || 'message', data: data.join('\n') };
        event = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  }
}

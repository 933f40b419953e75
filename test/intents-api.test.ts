import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
}

describe('POST /v1/intents and GET /v1/intents/{id}: the HTTP contract', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { HOLD_MUSIC_PROFILES: 'jazz=https://cdn.example/jazz.mp3' } });
  });
  afterAll(() => stack.stop());

  async function problem(res: Response, status: number): Promise<Problem> {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Problem;
    expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
    return body;
  }
  const fields = (p: Problem) => (p.errors ?? []).map((e) => e.field).sort();
  const allowed = () => stack.apiUrl;

  describe('authentication', () => {
    it('when no key is sent, then 401 names Authorization and asks for a bearer', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: 'c1' }, { key: null });
      expect(fields(await problem(res, 401))).toEqual(['Authorization']);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('when the key is wrong or not a bearer, then 401', async () => {
      await problem(await stack.post({ type: 'hold', call_uuid: 'c1' }, { key: 'not-a-real-key-0123456789' }), 401);
      const basic = await fetch(`${stack.apiUrl}/v1/intents`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`test:${TEST_KEY}`).toString('base64')}`, 'content-type': 'application/json' },
        body: '{}',
      });
      await problem(basic, 401);
      await problem(await stack.get('/v1/intents/00000000-0000-4000-8000-000000000000', { key: null }), 401);
    });

    it('when another client key is used, then the intent records that client', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: 'c-other' }, { key: 'other-secret-0123456789' });
      expect(res.status).toBe(202);
      expect(((await res.json()) as IntentView).client).toBe('other');
    });
  });

  describe('validation: every rule answers 422 naming the field', () => {
    const cases: [string, unknown, string[]][] = [
      ['missing type', { call_uuid: 'c1' }, ['type']],
      ['unknown type', { type: 'park', call_uuid: 'c1' }, ['type']],
      ['unknown field', { type: 'hold', call_uuid: 'c1', foo: 1 }, ['foo']],
      ['missing call_uuid', { type: 'hold' }, ['call_uuid']],
      ['empty call_uuid', { type: 'hold', call_uuid: '' }, ['call_uuid']],
      ['call_uuid with a colon', { type: 'hold', call_uuid: 'a:b' }, ['call_uuid']],
      ['call_uuid with a path', { type: 'hold', call_uuid: '../x' }, ['call_uuid']],
      ['call_uuid with a space', { type: 'hold', call_uuid: 'a b' }, ['call_uuid']],
      ['call_uuid with markup', { type: 'hold', call_uuid: 'a<b' }, ['call_uuid']],
      ['call_uuid of 65 characters', { type: 'hold', call_uuid: 'a'.repeat(65) }, ['call_uuid']],
      ['call_uuid not a string', { type: 'hold', call_uuid: 42 }, ['call_uuid']],
      ['legs outside aleg|bleg|both', { type: 'hold', call_uuid: 'c1', legs: 'cleg' }, ['legs']],
      ['a music profile that is not configured', { type: 'hold', call_uuid: 'c1', music: 'polka' }, ['music']],
      ['a music profile named like an Object method', { type: 'hold', call_uuid: 'c1', music: 'toString' }, ['music']],
      ['enqueue without queue', { type: 'enqueue', call_uuid: 'c1' }, ['queue']],
      ['an unsafe queue name', { type: 'enqueue', call_uuid: 'c1', queue: 'sup port' }, ['queue']],
      ['a fractional priority', { type: 'enqueue', call_uuid: 'c1', queue: 'q', priority: 1.5 }, ['priority']],
      ['a priority out of range', { type: 'enqueue', call_uuid: 'c1', queue: 'q', priority: 1001 }, ['priority']],
      ['max_wait_seconds 0', { type: 'enqueue', call_uuid: 'c1', queue: 'q', max_wait_seconds: 0 }, ['max_wait_seconds']],
      ['max_wait_seconds 86401', { type: 'enqueue', call_uuid: 'c1', queue: 'q', max_wait_seconds: 86_401 }, ['max_wait_seconds']],
      ['an overflow that is neither queue nor URL', { type: 'enqueue', call_uuid: 'c1', queue: 'q', overflow: 'no such thing!' }, ['overflow']],
      ['dequeue without agent_call_uuid', { type: 'dequeue', queue: 'q' }, ['agent_call_uuid']],
      ['transfer legs=aleg without aleg_url', { type: 'transfer', call_uuid: 'c1', legs: 'aleg' }, ['aleg_url']],
      ['transfer legs=bleg without bleg_url', { type: 'transfer', call_uuid: 'c1', legs: 'bleg' }, ['bleg_url']],
      ['transfer legs=both without URLs', { type: 'transfer', call_uuid: 'c1', legs: 'both' }, ['aleg_url', 'bleg_url']],
      ['transfer without legs', { type: 'transfer', call_uuid: 'c1', aleg_url: 'https://x.example/a' }, ['legs']],
      ['a transfer URL off the allowlist', { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'https://evil.example/x' }, ['aleg_url']],
      ['an ftp URL', { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'ftp://x.example/a' }, ['aleg_url']],
      ['a URL with credentials', { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'https://u:p@x.example/a' }, ['aleg_url']],
      ['aleg_method PUT', { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'https://x.example/a', aleg_method: 'PUT' }, ['aleg_method']],
      ['callback_url not a URL', { type: 'hold', call_uuid: 'c1', callback_url: 'call me' }, ['callback_url']],
      ['a JSON array', [], ['(body)']],
      ['a JSON string', 'hold', ['(body)']],
      ['JSON null', null, ['(body)']],
    ];
    it.each(cases)('when the body has %s, then 422 names it', async (_name, body, expected) => {
      const res = await stack.post(body);
      const p = await problem(res, 422);
      // A bad allowlisted-host test would name aleg_url for the wrong reason: the allowlist message is checked below.
      expect(fields(p)).toEqual(expected.sort());
    });

    it('when the transfer URL host is not allowed, then the message says which hosts are', async () => {
      const p = await problem(await stack.post({ type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'https://evil.example/x' }), 422);
      expect(p.errors![0]!.message).toContain('TRANSFER_URL_ALLOWLIST');
    });

    it('when __proto__ or constructor arrive as keys, then they are unknown fields, not prototype changes', async () => {
      const p = await problem(await stack.post(null, { raw: '{"type":"hold","call_uuid":"c1","__proto__":{"admin":true},"constructor":{"x":1}}' }), 422);
      expect(fields(p)).toEqual(['__proto__', 'constructor']);
    });

    it('when the body is not JSON, too large, or not JSON at all, then 400, 413 and 415', async () => {
      expect(fields(await problem(await stack.post(null, { raw: '{"type":' }), 400))).toEqual(['(body)']);
      await problem(await stack.post({ type: 'hold', call_uuid: 'c1', pad: 'x'.repeat(17 * 1024) }), 413);
      expect(fields(await problem(await stack.post(null, { raw: 'type=hold', contentType: 'text/plain' }), 415))).toEqual(['Content-Type']);
    });

    it('when the Idempotency-Key is not visible ASCII or is too long, then 422 names it', async () => {
      expect(fields(await problem(await stack.post({ type: 'hold', call_uuid: 'c1' }, { idempotencyKey: 'has space' }), 422))).toEqual(['Idempotency-Key']);
      expect(fields(await problem(await stack.post({ type: 'hold', call_uuid: 'c1' }, { idempotencyKey: 'k'.repeat(256) }), 422))).toEqual(['Idempotency-Key']);
    });
  });

  describe('accepted intents', () => {
    const bodies: [string, object][] = [
      ['hold', { type: 'hold', call_uuid: 'ok-hold' }],
      ['hold both with a profile', { type: 'hold', call_uuid: 'ok-both', legs: 'both', music: 'jazz' }],
      ['unhold', { type: 'unhold', call_uuid: 'ok-hold' }],
      ['enqueue', { type: 'enqueue', call_uuid: 'ok-q', queue: 'support', priority: -3, max_wait_seconds: 60, overflow: 'voicemail' }],
      ['dequeue', { type: 'dequeue', queue: 'support', agent_call_uuid: 'ok-agent' }],
      ['transfer', { type: 'transfer', call_uuid: 'ok-t', legs: 'aleg', aleg_url: '' }],
    ];
    it.each(bodies)('when a valid %s arrives, then 202 with Location and the queued record, readable by GET', async (_name, body) => {
      const b = body as { aleg_url?: string };
      if (b.aleg_url === '') b.aleg_url = `${allowed()}/plivo/xml/hold`;
      const res = await stack.post(b);
      expect(res.status).toBe(202);
      const record = (await res.json()) as IntentView;
      expect(res.headers.get('location')).toBe(`/v1/intents/${record.id}`);
      expect(record).toMatchObject({ ...b, client: 'test', status: 'queued', attempts: 0, transfers: [], error: null, finished_at: null });
      expect(record.created_at).toEqual(expect.any(String));
      const read = await stack.get(`/v1/intents/${record.id}`);
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual(record);
    });

    it('when an intent or route is unknown, then 404 problem+json', async () => {
      await problem(await stack.get('/v1/intents/00000000-0000-4000-8000-000000000000'), 404);
      await problem(await stack.get('/v1/intents/not-an-id'), 404);
      await problem(await stack.get('/v1/nothing-here'), 404);
    });
  });

  describe('idempotency', () => {
    it('when the same key comes with the same body, then the same intent comes back with 200 and nothing is queued twice', async () => {
      const body = { type: 'hold', call_uuid: 'idem-1', legs: 'both' };
      const first = await stack.post(body, { idempotencyKey: 'k-1' });
      expect(first.status).toBe(202);
      const reordered = await stack.post({ legs: 'both', call_uuid: 'idem-1', type: 'hold' }, { idempotencyKey: 'k-1' });
      expect(reordered.status).toBe(200);
      expect(((await reordered.json()) as IntentView).id).toBe(((await first.json()) as IntentView).id);
    });

    it('when the same key comes with another body, then 409 names Idempotency-Key', async () => {
      await stack.post({ type: 'hold', call_uuid: 'idem-2' }, { idempotencyKey: 'k-2' });
      expect(fields(await problem(await stack.post({ type: 'hold', call_uuid: 'idem-3' }, { idempotencyKey: 'k-2' }), 409))).toEqual(['Idempotency-Key']);
    });

    it('when two clients use the same key, then they get two intents (keys are per client)', async () => {
      const a = (await (await stack.post({ type: 'hold', call_uuid: 'idem-4' }, { idempotencyKey: 'shared' })).json()) as IntentView;
      const b = (await (await stack.post({ type: 'hold', call_uuid: 'idem-4' }, { idempotencyKey: 'shared', key: 'other-secret-0123456789' })).json()) as IntentView;
      expect(a.id).not.toBe(b.id);
    });
  });

  describe('request ids', () => {
    it('when any response goes out, then it carries X-Request-Id; a sane incoming one is echoed, an insane one replaced', async () => {
      const plain = await stack.get('/v1/intents/x', { key: null });
      expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const echoed = await fetch(`${stack.apiUrl}/livez`, { headers: { 'x-request-id': 'trace-abc.123' } });
      expect(echoed.headers.get('x-request-id')).toBe('trace-abc.123');
      const replaced = await fetch(`${stack.apiUrl}/livez`, { headers: { 'x-request-id': 'x'.repeat(300) } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(stack.logs.some((l) => l.includes('"requestId":"trace-abc.123"'))).toBe(true);
    });
  });
});

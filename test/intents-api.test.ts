/**
 * The HTTP contract of POST /v1/intents and GET /v1/intents/{id} , black-box over HTTP
 * against the real API, the real worker where a test needs one, a real Redis and the Plivo simulator.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { hasRedisServer, removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: { field: string; message: string }[];
}

const OTHER_KEY = 'other-secret-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const newCall = () => `call-${randomUUID()}`;

/** Asserts an RFC 9457 problem with this status and returns it. */
async function problem(res: Response, status: number): Promise<Problem> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toMatchObject({ status });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as Problem;
  expect(body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  return body;
}

const fieldsOf = (p: Problem) => (p.errors ?? []).map((e) => e.field).sort();

/** A 202 with Location and the queued record; returns the record. */
async function accepted(res: Response, expected: Record<string, unknown>, client = 'test'): Promise<IntentView> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toMatchObject({ status: 202 });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const record = JSON.parse(text) as IntentView;
  expect(record.id).toMatch(UUID);
  expect(res.headers.get('location')).toBe(`/v1/intents/${record.id}`);
  expect(record).toMatchObject({
    ...expected,
    client,
    status: 'queued',
    attempts: 0,
    transfers: [],
    error: null,
    finished_at: null,
  });
  expect(new Date(record.created_at).toISOString()).toBe(record.created_at);
  expect(Math.abs(Date.now() - Date.parse(record.created_at))).toBeLessThan(60_000);
  return record;
}

describe('the intents API (no worker: accepted intents stay queued)', () => {
  let stack: Stack;
  /** Scheme and host that TRANSFER_URL_ALLOWLIST allows by default: the PUBLIC_BASE_URL host. */
  let allowed: string;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { HOLD_MUSIC_PROFILES: 'jazz=https://cdn.example/jazz.mp3' } });
    allowed = stack.config.PUBLIC_BASE_URL;
  });
  afterAll(() => stack.stop());

  describe('authentication', () => {
    it('when no Authorization is sent, then 401 problem+json names Authorization and WWW-Authenticate asks for a bearer', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: newCall() }, { key: null });
      expect(fieldsOf(await problem(res, 401))).toEqual(['Authorization']);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    });

    it('when the bearer key is wrong, then 401 problem+json', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: newCall() }, { key: 'not-a-real-key-0123456789' });
      expect(fieldsOf(await problem(res, 401))).toEqual(['Authorization']);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    });

    it('when a valid key is sent with the Basic scheme, then 401', async () => {
      const res = await fetch(`${stack.apiUrl}/v1/intents`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`test:${TEST_KEY}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ type: 'hold', call_uuid: newCall() }),
      });
      expect(fieldsOf(await problem(res, 401))).toEqual(['Authorization']);
    });

    it('when the bare key is sent without a scheme, then 401', async () => {
      const res = await fetch(`${stack.apiUrl}/v1/intents`, {
        method: 'POST',
        headers: { authorization: TEST_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'hold', call_uuid: newCall() }),
      });
      await problem(res, 401);
    });

    it('when the second client key is used, then 202 and the record names client other', async () => {
      const call = newCall();
      const record = await accepted(
        await stack.post({ type: 'hold', call_uuid: call }, { key: OTHER_KEY }),
        { call_uuid: call },
        'other',
      );
      const read = (await (await stack.get(`/v1/intents/${record.id}`, { key: OTHER_KEY })).json()) as IntentView;
      expect(read.client).toBe('other');
    });

    it('when GET /v1/intents/{id} comes without Authorization, then 401 and the record is not shown', async () => {
      const call = newCall();
      const record = await accepted(await stack.post({ type: 'hold', call_uuid: call }), { call_uuid: call });
      const res = await stack.get(`/v1/intents/${record.id}`, { key: null });
      const body = await problem(res, 401);
      expect(JSON.stringify(body)).not.toContain(call);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    });
  });

  describe('validation', () => {
    type Body = unknown;
    /** [when …, body (or a function of the allowed base URL), the fields the 422 must name]. */
    const cases: [string, Body | ((base: string) => Body), string[]][] = [
      ['type is missing', { call_uuid: 'c1' }, ['type']],
      ['type is unknown', { type: 'park', call_uuid: 'c1' }, ['type']],
      ['type is not a string', { type: 1, call_uuid: 'c1' }, ['type']],
      ['an unknown top-level field foo is sent', { type: 'hold', call_uuid: 'c1', foo: 1 }, ['foo']],
      ['call_uuid is missing', { type: 'hold' }, ['call_uuid']],
      ['call_uuid is empty', { type: 'hold', call_uuid: '' }, ['call_uuid']],
      ['call_uuid contains a colon', { type: 'hold', call_uuid: 'a:b' }, ['call_uuid']],
      ['call_uuid contains ../', { type: 'hold', call_uuid: '../etc' }, ['call_uuid']],
      ['call_uuid contains a slash', { type: 'hold', call_uuid: 'a/b' }, ['call_uuid']],
      ['call_uuid contains spaces', { type: 'hold', call_uuid: 'a b' }, ['call_uuid']],
      ['call_uuid contains <', { type: 'hold', call_uuid: 'a<b' }, ['call_uuid']],
      ['call_uuid has 65 characters', { type: 'hold', call_uuid: 'a'.repeat(65) }, ['call_uuid']],
      ['call_uuid is a number', { type: 'hold', call_uuid: 42 }, ['call_uuid']],
      ['legs is not aleg, bleg or both', { type: 'hold', call_uuid: 'c1', legs: 'cleg' }, ['legs']],
      ['legs is ALEG in capitals', { type: 'hold', call_uuid: 'c1', legs: 'ALEG' }, ['legs']],
      ['music names a profile that is not configured', { type: 'hold', call_uuid: 'c1', music: 'polka' }, ['music']],
      ['music names an Object method (toString)', { type: 'hold', call_uuid: 'c1', music: 'toString' }, ['music']],
      ['unhold carries a field only hold knows (legs)', { type: 'unhold', call_uuid: 'c1', legs: 'aleg' }, ['legs']],
      ['enqueue has no queue', { type: 'enqueue', call_uuid: 'c1' }, ['queue']],
      ['enqueue has a queue name with a space', { type: 'enqueue', call_uuid: 'c1', queue: 'sup port' }, ['queue']],
      ['enqueue has a queue name with ../', { type: 'enqueue', call_uuid: 'c1', queue: '../q' }, ['queue']],
      ['priority is fractional', { type: 'enqueue', call_uuid: 'c1', queue: 'q', priority: 1.5 }, ['priority']],
      ['priority is a string', { type: 'enqueue', call_uuid: 'c1', queue: 'q', priority: '5' }, ['priority']],
      ['priority is 1001', { type: 'enqueue', call_uuid: 'c1', queue: 'q', priority: 1001 }, ['priority']],
      ['priority is -1001', { type: 'enqueue', call_uuid: 'c1', queue: 'q', priority: -1001 }, ['priority']],
      [
        'max_wait_seconds is 0',
        { type: 'enqueue', call_uuid: 'c1', queue: 'q', max_wait_seconds: 0 },
        ['max_wait_seconds'],
      ],
      [
        'max_wait_seconds is 86401',
        { type: 'enqueue', call_uuid: 'c1', queue: 'q', max_wait_seconds: 86_401 },
        ['max_wait_seconds'],
      ],
      [
        'overflow is neither a queue name nor a URL',
        { type: 'enqueue', call_uuid: 'c1', queue: 'q', overflow: 'no such thing!' },
        ['overflow'],
      ],
      [
        'overflow is an ftp URL',
        { type: 'enqueue', call_uuid: 'c1', queue: 'q', overflow: 'ftp://files.example/q' },
        ['overflow'],
      ],
      [
        'overflow is a URL off the allowlist',
        { type: 'enqueue', call_uuid: 'c1', queue: 'q', overflow: 'https://evil.example/x' },
        ['overflow'],
      ],
      ['dequeue has no agent_call_uuid', { type: 'dequeue', queue: 'q' }, ['agent_call_uuid']],
      ['transfer has no legs', (b: string) => ({ type: 'transfer', call_uuid: 'c1', aleg_url: `${b}/a` }), ['legs']],
      ['transfer has legs=aleg but no aleg_url', { type: 'transfer', call_uuid: 'c1', legs: 'aleg' }, ['aleg_url']],
      ['transfer has legs=bleg but no bleg_url', { type: 'transfer', call_uuid: 'c1', legs: 'bleg' }, ['bleg_url']],
      [
        'transfer has legs=both and neither URL',
        { type: 'transfer', call_uuid: 'c1', legs: 'both' },
        ['aleg_url', 'bleg_url'],
      ],
      [
        'transfer aleg_url has a host off TRANSFER_URL_ALLOWLIST',
        { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'https://evil.example/x' },
        ['aleg_url'],
      ],
      [
        'transfer bleg_url has a host off the allowlist and aleg_url is allowed',
        (b: string) => ({
          type: 'transfer',
          call_uuid: 'c1',
          legs: 'both',
          aleg_url: `${b}/a`,
          bleg_url: 'https://evil.example/b',
        }),
        ['bleg_url'],
      ],
      [
        'transfer aleg_url is the allowed hostname on another port',
        { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'http://127.0.0.1:1/x' },
        ['aleg_url'],
      ],
      [
        'transfer aleg_url is an ftp URL',
        (b: string) => ({
          type: 'transfer',
          call_uuid: 'c1',
          legs: 'aleg',
          aleg_url: b.replace(/^https?:/, 'ftp:') + '/a',
        }),
        ['aleg_url'],
      ],
      [
        'transfer aleg_url carries credentials',
        (b: string) => ({
          type: 'transfer',
          call_uuid: 'c1',
          legs: 'aleg',
          aleg_url: b.replace('://', '://u:p@') + '/a',
        }),
        ['aleg_url'],
      ],
      [
        'transfer aleg_url is not a URL',
        { type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'plivo/xml/hold' },
        ['aleg_url'],
      ],
      [
        'transfer aleg_method is PUT',
        (b: string) => ({ type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: `${b}/a`, aleg_method: 'PUT' }),
        ['aleg_method'],
      ],
      ['callback_url is not a URL', { type: 'hold', call_uuid: 'c1', callback_url: 'call me' }, ['callback_url']],
      [
        'callback_url is a javascript: URL',
        { type: 'hold', call_uuid: 'c1', callback_url: 'javascript:alert(1)' },
        ['callback_url'],
      ],
      ['the body is a JSON array', [{ type: 'hold', call_uuid: 'c1' }], ['(body)']],
      ['the body is a JSON string', 'hold', ['(body)']],
      ['the body is JSON null', null, ['(body)']],
      ['the body is a JSON number', 42, ['(body)']],
    ];
    for (const [when, body, fields] of cases) {
      it(`when ${when}, then 422 problem+json names ${fields.join(' and ')}`, async () => {
        const res = await stack.post(typeof body === 'function' ? (body as (b: string) => Body)(allowed) : body);
        expect(fieldsOf(await problem(res, 422))).toEqual([...fields].sort());
      });
    }

    it('when fields are missing, then each is named with "required" (and its allowed values), not zod\'s "expected string, received undefined"', async () => {
      const errorsOf = async (body: unknown) => (await problem(await stack.post(body), 422)).errors;
      expect(await errorsOf({ type: 'hold' })).toEqual([{ field: 'call_uuid', message: 'required' }]);
      expect(await errorsOf({ type: 'enqueue', call_uuid: 'c1' })).toEqual([{ field: 'queue', message: 'required' }]);
      expect(await errorsOf({ type: 'dequeue', queue: 'q' })).toEqual([
        { field: 'agent_call_uuid', message: 'required' },
      ]);
      expect(await errorsOf({ type: 'transfer', call_uuid: 'c1' })).toEqual([
        { field: 'legs', message: 'required: one of aleg, bleg, both' },
      ]);
      expect(await errorsOf({ call_uuid: 'c1' })).toEqual([
        { field: 'type', message: 'required: one of hold, unhold, enqueue, dequeue, callback, transfer' },
      ]);
      // The other messages stay: a wrong type, a wrong value, a schema's own words.
      expect(await errorsOf({ type: 'park', call_uuid: 'c1' })).toEqual([
        { field: 'type', message: 'must be one of hold, unhold, enqueue, dequeue, callback, transfer' },
      ]);
      expect(await errorsOf({ type: 'hold', call_uuid: 42 })).toEqual([
        { field: 'call_uuid', message: 'Invalid input: expected string, received number' },
      ]);
      expect(await errorsOf({ type: 'hold', call_uuid: 'a b' })).toEqual([
        { field: 'call_uuid', message: expect.stringMatching(/^call UUID must be 1-64 characters/) },
      ]);
      expect(await errorsOf({ type: 'hold', call_uuid: 'c1', legs: 'cleg' })).toEqual([
        { field: 'legs', message: 'Invalid option: expected one of "aleg"|"bleg"|"both"' },
      ]);
    });

    it('when a query lacks status or has a limit that is no number, then the problem says so in words', async () => {
      const list = async (query: string) => (await problem(await stack.get(`/v1/intents${query}`), 422)).errors;
      expect(await list('')).toEqual([
        { field: 'status', message: 'required: only status=failed (the dead letters) can be listed' },
      ]);
      expect(await list('?status=queued')).toEqual([
        { field: 'status', message: 'only status=failed (the dead letters) can be listed' },
      ]);
      expect(await list('?status=failed&limit=ten')).toEqual([{ field: 'limit', message: 'must be a number' }]);
      expect(await list('?status=failed&limit=0')).toEqual([
        { field: 'limit', message: expect.stringMatching(/>=\s?1/) },
      ]);
    });

    it('when music names a profile that is not configured, then the message lists default and the configured profiles', async () => {
      const p = await problem(await stack.post({ type: 'hold', call_uuid: 'c1', music: 'polka' }), 422);
      expect(p.errors).toEqual([{ field: 'music', message: 'unknown music profile; configured: default, jazz' }]);
    });

    it('when a transfer URL is off the allowlist, then the message points at TRANSFER_URL_ALLOWLIST', async () => {
      const p = await problem(
        await stack.post({ type: 'transfer', call_uuid: 'c1', legs: 'aleg', aleg_url: 'https://evil.example/x' }),
        422,
      );
      expect(p.errors).toEqual([{ field: 'aleg_url', message: expect.stringContaining('TRANSFER_URL_ALLOWLIST') }]);
    });

    it('when several fields are wrong at once, then one 422 names all of them', async () => {
      const p = await problem(
        await stack.post({ type: 'enqueue', call_uuid: 'a b', queue: 'q', priority: 5000, foo: 1 }),
        422,
      );
      expect(fieldsOf(p)).toEqual(['call_uuid', 'foo', 'priority']);
    });

    it('when __proto__ arrives as a real JSON key, then 422 names __proto__ and no prototype is polluted', async () => {
      const res = await stack.post(null, { raw: '{"type":"hold","call_uuid":"c1","__proto__":{"polluted":true}}' });
      expect(fieldsOf(await problem(res, 422))).toEqual(['__proto__']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('when constructor arrives as a key, then 422 names constructor', async () => {
      const res = await stack.post(null, {
        raw: '{"type":"hold","call_uuid":"c1","constructor":{"prototype":{"polluted":true}}}',
      });
      expect(fieldsOf(await problem(res, 422))).toEqual(['constructor']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('when the body is not valid JSON, then 400 names (body)', async () => {
      expect(fieldsOf(await problem(await stack.post(null, { raw: '{"type":' }), 400))).toEqual(['(body)']);
    });

    it('when Content-Encoding says gzip but the body is not gzip, then 400 names (body), not 500', async () => {
      const res = await fetch(`${stack.apiUrl}/v1/intents`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TEST_KEY}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: JSON.stringify({ type: 'hold', call_uuid: 'c1' }),
      });
      expect(fieldsOf(await problem(res, 400))).toEqual(['(body)']);
    });

    it('when the body is over 16 KiB, then 413', async () => {
      const small = JSON.stringify({ type: 'hold', call_uuid: newCall() });
      await problem(await stack.post(null, { raw: small + ' '.repeat(16 * 1024 + 1 - small.length) }), 413);
    });

    it('when the body is exactly 16 KiB, then it is accepted', async () => {
      const call = newCall();
      const small = JSON.stringify({ type: 'hold', call_uuid: call });
      const raw = small + ' '.repeat(16 * 1024 - small.length);
      expect(Buffer.byteLength(raw)).toBe(16 * 1024);
      await accepted(await stack.post(null, { raw }), { call_uuid: call });
    });

    it('when Content-Type is text/plain, then 415 names Content-Type', async () => {
      const res = await stack.post(null, {
        raw: JSON.stringify({ type: 'hold', call_uuid: 'c1' }),
        contentType: 'text/plain',
      });
      expect(fieldsOf(await problem(res, 415))).toEqual(['Content-Type']);
    });

    it('when Content-Type is application/json; charset=utf-8, then the intent is accepted', async () => {
      const call = newCall();
      await accepted(
        await stack.post({ type: 'hold', call_uuid: call }, { contentType: 'application/json; charset=utf-8' }),
        { call_uuid: call },
      );
    });

    it('when the Idempotency-Key contains a space, then 422 names Idempotency-Key', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: 'c1' }, { idempotencyKey: 'has space' });
      expect(fieldsOf(await problem(res, 422))).toEqual(['Idempotency-Key']);
    });

    it('when the Idempotency-Key contains a non-ASCII character, then 422 names Idempotency-Key', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: 'c1' }, { idempotencyKey: 'cl\u00e9' });
      expect(fieldsOf(await problem(res, 422))).toEqual(['Idempotency-Key']);
    });

    it('when the Idempotency-Key has 256 characters, then 422 names Idempotency-Key', async () => {
      const res = await stack.post({ type: 'hold', call_uuid: 'c1' }, { idempotencyKey: 'k'.repeat(256) });
      expect(fieldsOf(await problem(res, 422))).toEqual(['Idempotency-Key']);
    });

    it('when the Idempotency-Key has 255 visible ASCII characters, then the intent is accepted', async () => {
      const call = newCall();
      await accepted(
        await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: `${randomUUID()}!~`.padEnd(255, 'k') }),
        { call_uuid: call },
      );
    });
  });

  describe('accepted intents', () => {
    async function acceptAndRead(
      body: Record<string, unknown>,
      expected: Record<string, unknown> = body,
    ): Promise<IntentView> {
      const record = await accepted(await stack.post(body), expected);
      const read = await stack.get(`/v1/intents/${record.id}`);
      expect(read.status).toBe(200);
      expect(read.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await read.json()).toEqual(record);
      return record;
    }

    it('when a hold without legs arrives, then 202 with legs aleg, and GET returns the same record', async () => {
      const call = newCall();
      await acceptAndRead({ type: 'hold', call_uuid: call }, { type: 'hold', call_uuid: call, legs: 'aleg' });
    });

    it('when a hold with legs=both arrives, then 202, and GET returns the same record', async () => {
      await acceptAndRead({ type: 'hold', call_uuid: newCall(), legs: 'both' });
    });

    it('when a hold names the default music profile, then 202', async () => {
      await acceptAndRead({ type: 'hold', call_uuid: newCall(), music: 'default' });
    });

    it('when a hold names a configured music profile, then 202', async () => {
      await acceptAndRead({ type: 'hold', call_uuid: newCall(), legs: 'both', music: 'jazz' });
    });

    it('when an unhold arrives, then 202, and GET returns the same record', async () => {
      await acceptAndRead({ type: 'unhold', call_uuid: newCall() });
    });

    it('when an enqueue with priority, max_wait_seconds and a queue as overflow arrives, then 202, and GET returns the same record', async () => {
      await acceptAndRead({
        type: 'enqueue',
        call_uuid: newCall(),
        queue: 'support',
        priority: 7,
        max_wait_seconds: 120,
        overflow: 'voicemail',
      });
    });

    it('when an enqueue overflows to an allowed URL, then 202', async () => {
      await acceptAndRead({
        type: 'enqueue',
        call_uuid: newCall(),
        queue: 'support',
        overflow: `${allowed}/plivo/xml/queue/voicemail`,
      });
    });

    it('when an enqueue has no priority, then 202 with priority 0', async () => {
      const call = newCall();
      await acceptAndRead(
        { type: 'enqueue', call_uuid: call, queue: 'support' },
        { type: 'enqueue', call_uuid: call, queue: 'support', priority: 0 },
      );
    });

    it('when priority and max_wait_seconds sit on their lower bounds (-1000, 1), then 202', async () => {
      await acceptAndRead({
        type: 'enqueue',
        call_uuid: newCall(),
        queue: 'support',
        priority: -1000,
        max_wait_seconds: 1,
      });
    });

    it('when priority and max_wait_seconds sit on their upper bounds (1000, 86400), then 202', async () => {
      await acceptAndRead({
        type: 'enqueue',
        call_uuid: newCall(),
        queue: 'support',
        priority: 1000,
        max_wait_seconds: 86_400,
      });
    });

    it('when a dequeue arrives, then 202, and GET returns the same record', async () => {
      await acceptAndRead({ type: 'dequeue', queue: 'support', agent_call_uuid: newCall() });
    });

    it('when a transfer to an allowed URL arrives, then 202 with method POST by default, and GET returns the same record', async () => {
      const call = newCall();
      const body = {
        type: 'transfer',
        call_uuid: call,
        legs: 'aleg',
        aleg_url: `${allowed}/plivo/xml/hold?music=default`,
      };
      await acceptAndRead(body, { ...body, aleg_method: 'POST' });
    });

    it('when a transfer of both legs with GET methods arrives, then 202', async () => {
      await acceptAndRead({
        type: 'transfer',
        call_uuid: newCall(),
        legs: 'both',
        aleg_url: `${allowed}/plivo/xml/hold`,
        aleg_method: 'GET',
        bleg_url: `${allowed}/plivo/xml/park`,
        bleg_method: 'GET',
      });
    });

    it('when an intent carries a callback_url, then 202 and the record keeps it', async () => {
      await acceptAndRead({ type: 'hold', call_uuid: newCall(), callback_url: 'https://hooks.example/holdq?x=1' });
    });
  });

  describe('reading intents', () => {
    it('when GET names an unknown intent id, then 404 problem+json', async () => {
      await problem(await stack.get(`/v1/intents/${randomUUID()}`), 404);
    });

    it('when GET names a malformed intent id, then 404 problem+json', async () => {
      await problem(await stack.get('/v1/intents/not-an-id'), 404);
      const long = await problem(await stack.get(`/v1/intents/${'x'.repeat(2000)}`), 404);
      expect(long.detail.length).toBeLessThan(200);
    });

    it('when GET names an id that cannot be percent-decoded, then 404 problem+json, not 500', async () => {
      await problem(await stack.get('/v1/intents/%E0%A4%A'), 404);
    });

    it('when a route under /v1 is unknown, then 404 problem+json', async () => {
      await problem(await stack.get('/v1/nothing-here'), 404);
    });

    it('when a route outside /v1 is unknown, then 404 problem+json', async () => {
      await problem(await stack.get('/nothing-here', { key: null }), 404);
    });
  });

  describe('idempotency', () => {
    it('when the same key comes twice with the same body, then 202 and then 200 with the same record and Location', async () => {
      const body = { type: 'hold', call_uuid: newCall(), legs: 'both' };
      const key = `k-${randomUUID()}`;
      const first = await accepted(await stack.post(body, { idempotencyKey: key }), body);
      const again = await stack.post(body, { idempotencyKey: key });
      expect(again.status).toBe(200);
      expect(again.headers.get('location')).toBe(`/v1/intents/${first.id}`);
      expect(await again.json()).toEqual(first);
    });

    it('when the same key comes with the same fields in another order, then 200 with the same id', async () => {
      const call = newCall();
      const key = `k-${randomUUID()}`;
      const first = await accepted(
        await stack.post(
          { type: 'enqueue', call_uuid: call, queue: 'support', priority: 3, max_wait_seconds: 30 },
          { idempotencyKey: key },
        ),
        { call_uuid: call },
      );
      const again = await stack.post(
        { max_wait_seconds: 30, priority: 3, queue: 'support', call_uuid: call, type: 'enqueue' },
        { idempotencyKey: key },
      );
      expect(again.status).toBe(200);
      expect(((await again.json()) as IntentView).id).toBe(first.id);
    });

    it('when the same key comes with another body, then 409 problem names Idempotency-Key and the first intent is unchanged', async () => {
      const key = `k-${randomUUID()}`;
      const call = newCall();
      const first = await accepted(await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: key }), {
        call_uuid: call,
      });
      const res = await stack.post({ type: 'hold', call_uuid: newCall() }, { idempotencyKey: key });
      expect(fieldsOf(await problem(res, 409))).toEqual(['Idempotency-Key']);
      expect(await (await stack.get(`/v1/intents/${first.id}`)).json()).toEqual(first);
    });

    it('when two clients use the same key, then each gets its own intent (keys are per client)', async () => {
      const key = `shared-${randomUUID()}`;
      const call = newCall();
      const mine = await accepted(await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: key }), {
        call_uuid: call,
      });
      const theirs = await accepted(
        await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: key, key: OTHER_KEY }),
        { call_uuid: call },
        'other',
      );
      expect(theirs.id).not.toBe(mine.id);
    });

    it('when the same key and body arrive concurrently, then exactly one 202 and the rest 200, all with one id', async () => {
      const body = { type: 'hold', call_uuid: newCall() };
      const key = `k-${randomUUID()}`;
      const responses = await Promise.all(Array.from({ length: 8 }, () => stack.post(body, { idempotencyKey: key })));
      expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
      const ids = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as IntentView).id)));
      expect(ids.size).toBe(1);
    });
  });

  describe('request ids', () => {
    const requests: [string, number, (s: Stack) => Promise<Response>][] = [
      ['an intent is accepted', 202, (s) => s.post({ type: 'hold', call_uuid: newCall() })],
      ['an intent is read', 404, (s) => s.get(`/v1/intents/${randomUUID()}`)],
      ['authentication fails', 401, (s) => s.post({ type: 'hold', call_uuid: 'c1' }, { key: null })],
      ['validation fails', 422, (s) => s.post({ type: 'hold' })],
      ['the JSON is broken', 400, (s) => s.post(null, { raw: '{' })],
      ['the body is too large', 413, (s) => s.post(null, { raw: ' '.repeat(17 * 1024) })],
      ['the media type is wrong', 415, (s) => s.post(null, { raw: '{}', contentType: 'text/plain' })],
      ['the route is unknown', 404, (s) => s.get('/nothing-here', { key: null })],
    ];
    for (const [when, status, send] of requests) {
      it(`when ${when} (${status}), then the response carries a generated X-Request-Id`, async () => {
        const res = await send(stack);
        expect(res.status).toBe(status);
        expect(res.headers.get('x-request-id')).toMatch(UUID);
      });
    }

    it('when a sane X-Request-Id comes in, then it is echoed on success and on errors, and logged', async () => {
      const id = `trace-${randomUUID().slice(0, 8)}.A_1`;
      const headers = { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', 'x-request-id': id };
      const ok = await fetch(`${stack.apiUrl}/v1/intents`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'hold', call_uuid: newCall() }),
      });
      expect(ok.status).toBe(202);
      expect(ok.headers.get('x-request-id')).toBe(id);
      const bad = await fetch(`${stack.apiUrl}/v1/intents`, { method: 'POST', headers, body: '{}' });
      expect(bad.status).toBe(422);
      expect(bad.headers.get('x-request-id')).toBe(id);
      expect(stack.logs.some((l) => l.includes(`"requestId":"${id}"`))).toBe(true);
    });

    it('when the incoming X-Request-Id has spaces, then it is replaced by a generated one', async () => {
      const res = await fetch(`${stack.apiUrl}/v1/intents/${randomUUID()}`, {
        headers: { authorization: `Bearer ${TEST_KEY}`, 'x-request-id': 'has some spaces' },
      });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    });

    it('when the incoming X-Request-Id has 300 characters, then it is replaced by a generated one', async () => {
      const res = await fetch(`${stack.apiUrl}/v1/intents/${randomUUID()}`, {
        headers: { authorization: `Bearer ${TEST_KEY}`, 'x-request-id': 'r'.repeat(300) },
      });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    });

    it('when the incoming X-Request-Id carries markup, then it is replaced by a generated one', async () => {
      const res = await fetch(`${stack.apiUrl}/livez`, { headers: { 'x-request-id': '<script>x</script>' } });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    });
  });
});

describe('idempotency with the worker running', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  it('when the same key and body are posted twice, then one intent runs and Plivo sees one transfer for it', async () => {
    const call = newCall();
    const key = `k-${randomUUID()}`;
    const first = await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: key });
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as IntentView;
    const again = await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: key });
    expect(again.status).toBe(200);
    expect(((await again.json()) as IntentView).id).toBe(id);
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed', attempts: 1 });

    // A later intent for the same call runs only after every earlier one (per-call order),
    // so once it completes, a duplicate of the first would have reached Plivo too.
    const later = await stack.post({
      type: 'transfer',
      call_uuid: call,
      legs: 'aleg',
      aleg_url: `${stack.config.PUBLIC_BASE_URL}/plivo/xml/park`,
    });
    expect(later.status).toBe(202);
    const laterId = ((await later.json()) as IntentView).id;
    expect(await stack.waitForIntent(laterId)).toMatchObject({ status: 'completed' });
    const forCall = stack.sim.received().filter((r) => r.call_uuid === call);
    expect(forCall.map((r) => (r.body as { aleg_url: string }).aleg_url)).toEqual([
      expect.stringContaining('/plivo/xml/hold'),
      `${stack.config.PUBLIC_BASE_URL}/plivo/xml/park`,
    ]);

    // A replay after completion still answers 200 with the finished record and queues nothing.
    const late = await stack.post({ type: 'hold', call_uuid: call }, { idempotencyKey: key });
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ id, status: 'completed' });
  });
});

(hasRedisServer() ? describe : describe.skip)('5xx answers leak nothing', () => {
  let redis: RedisProcess;
  let admin: Redis;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await admin.quit();
    await stack.stop();
    await redis.stop();
    removeDir(redis.dir);
  });

  function expectNoInternals(body: Problem, raw: string) {
    expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['detail', 'status', 'title', 'type']));
    expect(body).not.toHaveProperty('stack');
    expect(body).not.toHaveProperty('errors');
    for (const leak of [
      /OOM/,
      /maxmemory/i,
      /redis:\/\//i,
      /ReplyError/,
      /\bat .+:\d+:\d+/,
      /node_modules/,
      /src\//,
      /ECONN/,
      /127\.0\.0\.1/,
    ]) {
      expect(raw).not.toMatch(leak);
    }
  }

  it('when Redis refuses writes (out of memory), then 503 problem+json with Retry-After and a generic detail, and the cause is only logged', async () => {
    await admin.config('SET', 'maxmemory', '1');
    try {
      const res = await stack.post({ type: 'hold', call_uuid: newCall() });
      const raw = await res.clone().text();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = await problem(res, 503);
      expectNoInternals(body, raw);
      expect(res.headers.get('x-request-id')).toMatch(UUID);
      expect(stack.logs.some((l) => l.includes('OOM'))).toBe(true);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    const call = newCall();
    await accepted(await stack.post({ type: 'hold', call_uuid: call }), { call_uuid: call });
  });

  it('when Redis turns read-only (a failover under way), then 503 problem+json with Retry-After, leaking nothing', async () => {
    // A replica of a master that does not answer refuses every write with READONLY.
    await admin.call('REPLICAOF', '127.0.0.1', '1');
    try {
      const res = await stack.post({ type: 'hold', call_uuid: newCall() });
      const raw = await res.clone().text();
      const body = await problem(res, 503);
      expectNoInternals(body, raw);
      expect(raw).not.toMatch(/READONLY|replica/i);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await admin.call('REPLICAOF', 'NO', 'ONE');
    }
    const call = newCall();
    await accepted(await stack.post({ type: 'hold', call_uuid: call }), { call_uuid: call });
  });
});

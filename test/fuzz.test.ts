import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { rawRequest } from './helpers/raw-http.js';
import { startStack, TEST_KEY, type Stack } from './helpers/stack.js';

/**
 * Property-based fuzzing of everything holdq takes from outside: intents, the
 * /plivo endpoints and query parameters. Whatever arrives: never a 5xx, every
 * rejection a problem+json naming its field, every XML document well-formed.
 * Each property runs a bounded number of cases (NUM_RUNS) against the real API.
 */
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const KEYS = [
  'type',
  'call_uuid',
  'legs',
  'queue',
  'music',
  'priority',
  'max_wait_seconds',
  'overflow',
  'agent_call_uuid',
  'aleg_url',
  'bleg_url',
  'aleg_method',
  'bleg_method',
  'callback_url',
  '__proto__',
  'constructor',
  'prototype',
];
const TYPES = ['hold', 'unhold', 'enqueue', 'dequeue', 'transfer', 'HOLD', '', 'hold\u0000'];
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    'toString',
    'constructor',
    '__proto__',
    'hasOwnProperty',
    'valueOf',
    "'; DROP TABLE x;--",
    '../../etc/passwd',
    '<x>&amp;"\'',
    '{holdq}:intent:*',
    '*\r\nSET x y',
    '\u202e\ufeff',
    'a'.repeat(70),
    'javascript:alert(1)',
    'http://127.0.0.1:6379/',
    'https://x.example/%00',
    '\ud800',
  ),
  fc.webUrl(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);
/** Lone surrogates cannot be percent-encoded; a real client would have replaced them too. */
const enc = (s: string) => encodeURIComponent((s as string & { toWellFormed(): string }).toWellFormed());
const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
const intentLike = fc
  .record({ type: fc.constantFrom(...TYPES) }, { requiredKeys: [] })
  .chain((base) =>
    fc.dictionary(fc.constantFrom(...KEYS), nasty, { maxKeys: 6 }).map((extra) => ({ ...extra, ...base })),
  );

describe('fuzzing the edges', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, simulator: { fetchXml: false } });
  });
  afterAll(() => stack.stop());

  async function expectSane(res: Response, context: unknown) {
    const status = res.status;
    const body = await res.text();
    if (status >= 500)
      throw new Error(`5xx for ${JSON.stringify(context).slice(0, 300)}: ${status} ${body.slice(0, 300)}`);
    if (status >= 400) {
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const p = JSON.parse(body) as { status: number; title: string; errors?: { field: string; message: string }[] };
      expect(p.status).toBe(status);
      if (status === 400 || status === 415 || status === 422) {
        expect(p.errors?.length).toBeGreaterThan(0);
        for (const e of p.errors!)
          expect(typeof e.field === 'string' && e.field.length > 0 && typeof e.message === 'string').toBe(true);
      }
    }
    return { status, body };
  }

  it('when intents of any shape arrive, then holdq never answers 5xx and names every offending field', async () => {
    await fc.assert(
      fc.asyncProperty(intentLike, async (body) => {
        await expectSane(await stack.post(body), body);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('when arbitrary JSON or raw text arrives, then it is 2xx or a problem, never a crash', async () => {
    const raw = fc.oneof(
      fc.json(),
      fc.string({ unit: 'binary' }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.integer({ min: 1, max: 4000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.integer({ min: 1, max: 2000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
      fc.constant('{"type":"hold","call_uuid":"c1","__proto__":{"polluted":true}}'),
    );
    const contentType = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/vnd.api+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      '',
    );
    await fc.assert(
      fc.asyncProperty(raw, contentType, async (text, type) => {
        const res = await fetch(`${stack.apiUrl}/v1/intents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_KEY}`, ...(type ? { 'content-type': type } : {}) },
          body: text,
        });
        await expectSane(res, { text: text.slice(0, 100), type });
      }),
      { numRuns: NUM_RUNS },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('when query parameters are arbitrary, then the listing and lookups never answer 5xx', async () => {
    const paths = fc
      .tuple(fc.string(), fc.string(), fc.string(), fc.string({ unit: 'grapheme' }))
      .map(([status, limit, cursor, id]) => [
        `/v1/intents?status=${enc(status)}&limit=${enc(limit)}&cursor=${enc(cursor)}`,
        `/v1/intents?status=failed&limit=${enc(limit)}&limit=2&cursor[]=${enc(cursor)}`,
        `/v1/intents/${enc(id)}`,
        `/v1/calls/${enc(id)}`,
        `/v1/queues/${enc(id)}`,
      ]);
    await fc.assert(
      fc.asyncProperty(paths, async (urls) => {
        for (const url of urls) await expectSane(await stack.get(url), url);
      }),
      { numRuns: Math.ceil(NUM_RUNS / 4) },
    );
  });

  it('when Plivo-signed requests carry hostile names, parameters and forms, then every XML answer is well-formed', async () => {
    const doc = fc.constantFrom(
      'hold',
      'park',
      'bridge/',
      'queue/',
      'callback/offer/',
      'callback/confirmed/',
      'callback/answer/',
      'connecting/',
      'idle',
    );
    const form = fc.dictionary(
      fc.constantFrom('CallUUID', 'From', 'To', 'CallStatus', 'Direction', 'Digits', '__proto__', 'x'),
      nasty.map(text),
      { maxKeys: 5 },
    );
    await fc.assert(
      fc.asyncProperty(
        doc,
        nasty.map(text),
        nasty.map(text),
        form,
        fc.constantFrom('GET', 'POST'),
        async (d, name, call, f, method) => {
          const path = `/plivo/xml/${d}${d.endsWith('/') ? enc(name) : ''}?call=${enc(call)}&music=${enc(name)}&attempt=${enc(name)}`;
          const res = await stack.plivo(path, { method: method as 'GET' | 'POST', form: f });
          const { status, body } = await expectSane(res, { path, f });
          if (status === 200) expect(XMLValidator.validate(body)).toBe(true);
          else expect(status).toBe(404); // an unroutable path (a name with a slash) is a plain 404
        },
      ),
      { numRuns: NUM_RUNS },
    );
    await expectSane(
      await stack.plivo('/plivo/events/hangup', { form: { CallUUID: '<x>', HangupCause: '\u0000' } }),
      'hangup',
    );
    for (const q of ['call=%00&attempt=1e999', 'call=x&attempt=-1', 'attempt=1', 'call=x&attempt=1&attempt=2'])
      await expectSane(
        await stack.plivo(`/plivo/events/callback-hangup/q?${q}`, {
          form: { CallStatus: '<busy>', HangupCause: '\u0000' },
        }),
        q,
      );
  });

  it('when the request target is any shape (absolute form, odd schemes, broken authorities), then holdq never answers 5xx', async () => {
    // What an HTTP/1.1 request line can carry: visible ASCII, no spaces. fetch only sends origin form.
    const visible = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 24,
    });
    const scheme = fc.constantFrom(
      'http://',
      'https://',
      'HTTP://',
      'ftp://',
      'http:',
      '//',
      '',
      'http:///',
      'http://[',
    );
    const authority = fc.oneof(
      fc.domain(),
      fc.constantFrom('127.0.0.1:99999', '[::1', '[::1]:80', 'a:b', 'user:pw@host', 'evil.example:', '%00', ''),
      visible,
    );
    const path = fc.constantFrom(
      '/plivo/xml/hold',
      '/plivo/xml/park',
      '/plivo/xml/queue/q',
      '/plivo/xml/bridge/r',
      '/plivo/events/hangup',
      '/v1/intents',
      '/livez',
      '/readyz',
      '/docs',
      '/openapi.json',
      '/admin/queues',
      '',
      '/',
    );
    const target = fc.tuple(scheme, authority, path, visible).map(([s, a, p, q]) => `${s}${a}${p}${q ? `?${q}` : ''}`);
    await fc.assert(
      fc.asyncProperty(target, fc.constantFrom('GET', 'POST'), async (t, method) => {
        const res = await rawRequest(stack.api!.port, t, {
          method,
          headers: {
            'x-plivo-signature-v3': 'x',
            'x-plivo-signature-v3-nonce': '1',
            authorization: `Bearer ${TEST_KEY}`,
          },
        });
        // 0: Node's HTTP parser refused the request line itself and closed the socket; 400 with no body: the same, answered.
        if (res.status === 0 || (res.status === 400 && res.body === '')) return;
        if (res.status >= 500 || res.status < 200)
          throw new Error(`${res.status} for ${method} ${t}: ${res.body.slice(0, 300)}`);
        if (res.status >= 400)
          expect({ t, type: res.headers['content-type'] }).toEqual({
            t,
            type: expect.stringMatching(/^application\/problem\+json/),
          });
      }),
      { numRuns: Math.ceil(NUM_RUNS / 4) },
    );
  });
});

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HOLDQ_VERSION } from '../src/version.js';
import { eventView } from '../src/api/responses.js';
import { RESPONSE_EXAMPLES } from '../src/api/response-examples.js';
import { checked, checkResponse } from './helpers/responses.js';
import { ADMIN_KEY, startStack, type IntentView, type Stack } from './helpers/stack.js';

interface Doc {
  openapi: string;
  info: { version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: {
          content: Record<string, { examples: Record<string, { value: unknown; 'x-holdq-status': number }> }>;
        };
        responses: Record<
          string,
          {
            content?: Record<
              string,
              { examples?: Record<string, { value: { status: number; errors: { field: string }[] } }> }
            >;
          }
        >;
      }
    >
  >;
}

describe('the OpenAPI document', () => {
  let stack: Stack;
  let doc: Doc;
  beforeAll(async () => {
    stack = await startStack({ simulator: { fetchXml: false }, env: { CALLBACK_CALLER_ID: '+14155550000' } });
    const res = await stack.get('/openapi.json', { key: null });
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(() => stack.stop());

  it('when fetched, then it is OpenAPI 3.1 at the package version and documents every /v1 route', () => {
    expect(doc.openapi).toBe('3.1.0');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
    expect(HOLDQ_VERSION).toBe(pkg.version);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/livez',
        '/metrics',
        '/readyz',
        '/v1/calls',
        '/v1/calls/{call_uuid}',
        '/v1/events',
        '/v1/intents',
        '/v1/intents/{id}',
        '/v1/intents/{id}/retry',
        '/v1/queues',
        '/v1/queues/{name}',
        '/v1/wallboard/session',
      ].sort(),
    );
  });

  it('when every request example is posted, then the API answers the documented status', async () => {
    const examples = doc.paths['/v1/intents']!.post!.requestBody!.content['application/json']!.examples;
    expect(Object.keys(examples).length).toBeGreaterThanOrEqual(7);
    for (const [name, example] of Object.entries(examples)) {
      const res = await stack.post(example.value);
      expect({ name, status: res.status }).toEqual({ name, status: example['x-holdq-status'] });
    }
  });

  it('when the documented invalid intent is posted, then the problem names the documented fields', async () => {
    const documented =
      doc.paths['/v1/intents']!.post!.responses['422']!.content!['application/problem+json']!.examples!.invalid!.value;
    const res = await stack.post({ type: 'hold', call_uuid: '../etc', colour: 'blue' });
    expect(res.status).toBe(documented.status);
    const body = (await res.json()) as { errors: { field: string }[] };
    expect(body.errors.map((e) => e.field).sort()).toEqual(documented.errors.map((e) => e.field).sort());
  });

  it('when a person opens /docs, then the page, its script and Redoc all come from holdq itself, and render /openapi.json', async () => {
    const res = await stack.get('/docs', { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await res.text();
    expect(page).not.toMatch(/https?:\/\//); // no CDN, no fonts: it works without internet
    const scripts = [...page.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(['/docs/holdq-docs.js']);
    const start = await stack.get(scripts[0]!, { key: null });
    expect(start.status).toBe(200);
    expect(start.headers.get('content-type')).toMatch(/^text\/javascript/);
    const code = await start.text();
    expect(code).toContain("init('/openapi.json'");
    expect(code).toContain('disableTelemetry: true');
    const imports = [...code.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    expect(imports).toEqual(['/docs/redoc.standalone.js']);
    const redoc = await stack.get(imports[0]!, { key: null });
    expect(redoc.status).toBe(200);
    expect(redoc.headers.get('content-type')).toMatch(/^text\/javascript/);
    const bundle = await redoc.text();
    expect(bundle.slice(0, 400)).toMatch(/Version: 3\./);
    expect(bundle).toContain('export{RedocStandalone,hydrate,init}');
  });
  it('when every route answers, then each answer matches its schema in the document, with no field it does not declare', async () => {
    const hold = (await (await stack.post({ type: 'hold', call_uuid: 'doc-call' })).json()) as IntentView;
    await stack.waitForIntent(hold.id);
    await stack.post({ type: 'enqueue', call_uuid: 'doc-caller', queue: 'doc-q' });
    const dq = (await (
      await stack.post({ type: 'dequeue', queue: 'empty-q', agent_call_uuid: 'doc-agent' })
    ).json()) as IntentView;
    await stack.waitForIntent(dq.id);
    await stack.get(`/v1/intents/${hold.id}`);
    await stack.get('/v1/intents?status=failed');
    await stack.get('/v1/calls/doc-call');
    await stack.get('/v1/calls?state=held');
    await stack.get('/v1/queues');
    await stack.get('/v1/queues/doc-q');
    await stack.get('/v1/queues/nowhere');
    await stack.post({ type: 'hold', call_uuid: '../x' });
    const retry = await fetch(`${stack.apiUrl}/v1/intents/${dq.id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    await checkResponse('POST', `${stack.apiUrl}/v1/intents/${dq.id}/retry`, retry);
    expect([...checked].sort()).toEqual(
      expect.arrayContaining([
        'GET /v1/calls 200',
        'GET /v1/calls/{call_uuid} 200',
        'GET /v1/intents 200',
        'GET /v1/intents/{id} 200',
        'GET /v1/queues 200',
        'GET /v1/queues/{name} 200',
        'GET /v1/queues/{name} 404',
        'POST /v1/intents 202',
        'POST /v1/intents 422',
        'POST /v1/intents/{id}/retry 202',
      ]),
    );
  });

  it('when the document shows response examples, then each is a real answer (generated) that matches its route and status, strictly, and every /v1 read has one', async () => {
    const ids = Object.keys(RESPONSE_EXAMPLES);
    for (const id of ids) {
      const [method, template, status] = id.split(' ') as [string, string, string];
      const value = RESPONSE_EXAMPLES[id]!.value;
      const type = Number(status) >= 400 ? 'application/problem+json' : 'application/json';
      const url = `http://x${template.replace(/\{[^}]+\}/g, 'x-1')}`;
      await expect(
        checkResponse(
          method,
          url,
          new Response(JSON.stringify(value), { status: Number(status), headers: { 'content-type': type } }),
        ),
      ).resolves.toBeUndefined();
      // The document shows it where the route answers that status.
      const media = Object.values(doc.paths[template]![method.toLowerCase()]!.responses[status]!.content!)[0]!;
      expect(media.examples!.answered).toEqual(RESPONSE_EXAMPLES[id]);
    }
    for (const read of [
      'POST /v1/intents 202',
      'GET /v1/intents 200',
      'GET /v1/intents/{id} 200',
      'POST /v1/intents/{id}/retry 202',
      'GET /v1/calls 200',
      'GET /v1/calls/{call_uuid} 200',
      'GET /v1/queues 200',
      'GET /v1/queues/{name} 200',
    ])
      expect(ids).toContain(read);
  });

  it('when an answer carries a field the document does not declare, or a status it does not list, then the check fails', async () => {
    const answer = (status: number, body: unknown, type = 'application/json') =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
    const call = {
      call_uuid: 'c',
      state: 'queued',
      queue: 'q',
      position: 1,
      since: '2026-12-02T00:00:00.000Z',
      transfer_count: 1,
      transfer_budget: 60,
      last_intent_id: null,
      held_legs: null,
      bleg_uuid: null,
    };
    await expect(checkResponse('GET', 'http://x/v1/calls/c', answer(200, call))).resolves.toBeUndefined();
    await expect(checkResponse('GET', 'http://x/v1/calls/c', answer(200, { ...call, secret: 1 }))).rejects.toThrow(
      /does not match the document/,
    );
    const { position: _p, ...missing } = call;
    await expect(checkResponse('GET', 'http://x/v1/calls/c', answer(200, missing))).rejects.toThrow(/position/);
    await expect(checkResponse('GET', 'http://x/v1/calls/c', answer(418, call))).rejects.toThrow(/does not declare/);
    // The event stream's data the same way (helpers/sse.ts checks every event the suite reads).
    const held = { type: 'call.held', at: '2026-12-02T00:00:00.000Z', call_uuid: 'c', legs: 'aleg' };
    expect(eventView.safeParse(held).success).toBe(true);
    expect(eventView.safeParse({ ...held, number: '+15551234567' }).success).toBe(false);
  });
});

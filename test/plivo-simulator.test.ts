import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { verifyV3 } from '../src/domain/plivo-signature.js';
import { startSimulator, type PlivoSimulator } from '../src/simulator/plivo-simulator.js';
import { freePort } from './helpers/redis-server.js';
import { startStack, until, type IntentView } from './helpers/stack.js';

interface XmlHit {
  method: string;
  url: string;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A tiny XML server standing in for holdq, recording what the simulator fetched. */
async function startXmlServer() {
  const hits: XmlHit[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      // /status/503 answers 503; /html answers a page that is no Plivo document; the rest, a <Response>.
      const status = Number(/^\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
      const doc = req.url?.startsWith('/html')
        ? '<html><body>It works!</body></html>'
        : '<?xml version="1.0"?>\n<Response><Wait length="1"/></Response>\n';
      res.writeHead(status, { 'content-type': 'application/xml' }).end(doc);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('the Plivo simulator', () => {
  let sim: PlivoSimulator;
  let xml: Awaited<ReturnType<typeof startXmlServer>>;
  const auth = () => `Basic ${Buffer.from(`${sim.authId}:${sim.authToken}`).toString('base64')}`;
  const transfer = (
    callUuid: string,
    body: unknown,
    o: { auth?: string; method?: string; path?: string; signal?: AbortSignal } = {},
  ) =>
    fetch(`${sim.url}${o.path ?? `/v1/Account/${sim.authId}/Call/${callUuid}/`}`, {
      method: o.method ?? 'POST',
      headers: { authorization: o.auth ?? auth(), 'content-type': 'application/json' },
      ...(o.method === 'GET' ? {} : { body: JSON.stringify(body) }),
      ...(o.signal ? { signal: o.signal } : {}),
    });

  beforeAll(async () => {
    sim = await startSimulator();
    xml = await startXmlServer();
  });
  afterAll(async () => {
    await sim.stop();
    await xml.stop();
  });
  beforeEach(() => {
    sim.reset();
    xml.hits.length = 0;
  });

  it('when a transfer is valid, then it answers 202 with an api_id and fetches the XML signed like Plivo', async () => {
    sim.createCall('call-1');
    const res = await transfer('call-1', { legs: 'aleg', aleg_url: `${xml.url}/hold?x=1` });
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { api_id: string };
    expect(answer).toEqual({ message: 'call transferred', api_id: expect.any(String) });
    expect(sim.received().map((r) => r.api_id)).toEqual([answer.api_id]);
    const call = await sim.waitForXmlFetch('call-1');
    expect(call.current).toMatchObject({
      url: `${xml.url}/hold?x=1`,
      method: 'POST',
      fetched_status: 200,
      xml: expect.stringContaining('<Wait'),
    });
    const [hit] = xml.hits;
    const form = Object.fromEntries(new URLSearchParams(hit!.body));
    expect(form).toMatchObject({ CallUUID: 'call-1', CallStatus: 'in-progress' });
    const ok = verifyV3(
      sim.authToken,
      'POST',
      `${xml.url}${hit!.url}`,
      String(hit!.headers['x-plivo-signature-v3-nonce']),
      String(hit!.headers['x-plivo-signature-v3']),
      form,
    );
    expect(ok).toBe(true);
  });

  it('when the leg method is GET, then the parameters travel in the signed query string', async () => {
    sim.createCall('call-g');
    expect((await transfer('call-g', { legs: 'aleg', aleg_url: `${xml.url}/room`, aleg_method: 'GET' })).status).toBe(
      202,
    );
    await sim.waitForXmlFetch('call-g');
    const [hit] = xml.hits;
    expect(hit!.method).toBe('GET');
    expect(hit!.url).toContain('CallUUID=call-g');
    expect(
      verifyV3(
        sim.authToken,
        'GET',
        `${xml.url}${hit!.url}`,
        String(hit!.headers['x-plivo-signature-v3-nonce']),
        String(hit!.headers['x-plivo-signature-v3']),
      ),
    ).toBe(true);
  });

  it('when the body is invalid, then it answers 400 with an error', async () => {
    sim.createCall('call-2', { blegUuid: null });
    for (const body of [
      { legs: 'middle', aleg_url: `${xml.url}/x` },
      { legs: 'aleg' },
      { legs: 'both', aleg_url: `${xml.url}/x` },
      { legs: 'aleg', aleg_url: 'not a url' },
    ]) {
      const res = await transfer('call-2', body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ api_id: expect.any(String), error: expect.any(String) });
    }
    const noBleg = await transfer('call-2', { legs: 'bleg', bleg_url: `${xml.url}/x` });
    expect(await noBleg.json()).toMatchObject({ error: 'call has no B leg' });
  });

  it('when auth is wrong, the method is not POST, or the slash is missing, then it answers 401, 405 and 404', async () => {
    sim.createCall('call-3');
    expect((await transfer('call-3', {}, { auth: 'Basic bm86bm8=' })).status).toBe(401);
    expect((await transfer('call-3', {}, { path: `/v1/Account/OTHER/Call/call-3/` })).status).toBe(401);
    expect((await transfer('call-3', {}, { method: 'GET' })).status).toBe(405);
    expect((await transfer('call-3', {}, { path: `/v1/Account/${sim.authId}/Call/call-3` })).status).toBe(404);
  });

  it('when the call is unknown or ended, then it answers 404; with autoCreateCalls an unknown call is live', async () => {
    expect((await transfer('nobody', { legs: 'aleg', aleg_url: `${xml.url}/x` })).status).toBe(404);
    sim.createCall('call-4');
    sim.endCall('call-4');
    expect((await transfer('call-4', { legs: 'aleg', aleg_url: `${xml.url}/x` })).status).toBe(404);
    const auto = await startSimulator({ autoCreateCalls: true, fetchXml: false });
    try {
      const res = await fetch(`${auto.url}/v1/Account/${auto.authId}/Call/fresh/`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${auto.authId}:${auto.authToken}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ legs: 'both', aleg_url: 'http://x/a', bleg_url: 'http://x/b' }),
      });
      expect(res.status).toBe(202);
      expect(auto.getCall('fresh')).toMatchObject({ status: 'live', bleg_uuid: 'fresh-bleg', transfers: 1 });
    } finally {
      await auto.stop();
    }
  });

  it('when asked for live calls as plivo-node asks (GET …/Call/?status=live), then it lists the live ones; wrong auth is 401', async () => {
    const live = sim.createCall('listed-live');
    const gone = sim.createCall('listed-gone');
    sim.endCall(gone.call_uuid);
    const list = (url: string, authorization = auth()) => fetch(url, { headers: { authorization } });
    const res = await list(`${sim.url}/v1/Account/${sim.authId}/Call/?status=live`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { api_id: string; calls: string[] };
    expect(body.calls).toContain(live.call_uuid);
    expect(body.calls).not.toContain(gone.call_uuid);
    expect((await list(`${sim.url}/v1/Account/${sim.authId}/Call/?status=live`, 'Basic eDp5')).status).toBe(401);
    expect((await list(`${sim.url}/v1/Account/${sim.authId}/Call/`)).status).toBe(400);
  });

  it('when a call is placed (Make Call, as plivo-node sends it), then 201 "call fired", it rings, and Plivo-style the answer URL is fetched, signed, as the new outbound call; its hangup calls the hangup URL', async () => {
    sim.setRingMs(50);
    const place = (body: unknown, authorization = auth()) =>
      fetch(`${sim.url}/v1/Account/${sim.authId}/Call/`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const body = {
      from: '+15550100000',
      to: '+14155550100',
      answer_url: `${xml.url}/answer?call=c1&attempt=1`,
      answer_method: 'POST',
      hangup_url: `${xml.url}/hangup?call=c1&attempt=1`,
      hangup_method: 'POST',
      ring_timeout: 30,
    };
    expect((await place(body, 'Basic eDp5')).status).toBe(401);
    for (const bad of [
      { ...body, to: 'nobody' },
      { ...body, from: undefined },
      { ...body, answer_url: 'ftp://x' },
    ])
      expect((await place(bad)).status).toBe(400);
    const res = await place(body);
    expect(res.status).toBe(201);
    const fired = (await res.json()) as { message: string; request_uuid: string; api_id: string };
    expect(fired).toEqual({ message: 'call fired', request_uuid: expect.any(String), api_id: expect.any(String) });
    const dial = await sim.waitForDialed(fired.request_uuid);
    expect(dial).toMatchObject({ status: 'answered', to: '+14155550100', call_uuid: expect.any(String) });
    const [answer] = xml.hits;
    const form = Object.fromEntries(new URLSearchParams(answer!.body));
    expect(form).toMatchObject({
      CallUUID: dial.call_uuid,
      From: '+15550100000',
      To: '+14155550100',
      CallStatus: 'in-progress',
      Direction: 'outbound',
      RequestUUID: fired.request_uuid,
    });
    const signed = (hit: XmlHit, f: Record<string, string>) =>
      verifyV3(
        sim.authToken,
        'POST',
        `${xml.url}${hit.url}`,
        String(hit.headers['x-plivo-signature-v3-nonce']),
        String(hit.headers['x-plivo-signature-v3']),
        f,
      );
    expect(signed(answer!, form)).toBe(true);
    // The customer hangs up: Plivo calls the hangup URL, completed.
    sim.endCall(dial.call_uuid!);
    await until(() => xml.hits.length === 2 || undefined, 'the hangup URL');
    const hangup = Object.fromEntries(new URLSearchParams(xml.hits[1]!.body));
    expect(xml.hits[1]!.url).toBe('/hangup?call=c1&attempt=1');
    expect(hangup).toMatchObject({ CallUUID: dial.call_uuid, CallStatus: 'completed', HangupCause: 'NORMAL_CLEARING' });
    expect(signed(xml.hits[1]!, hangup)).toBe(true);
  });

  it('when a placed call is not answered (a dial fault), then the hangup URL says busy, no-answer or failed, and nothing is fetched for a lost one', async () => {
    sim.setRingMs(20);
    for (const outcome of ['busy', 'no-answer', 'failed', 'lost'] as const) {
      xml.hits.length = 0;
      sim.injectDialFault({ outcome });
      const res = await fetch(`${sim.url}/v1/Account/${sim.authId}/Call/`, {
        method: 'POST',
        headers: { authorization: auth(), 'content-type': 'application/json' },
        body: JSON.stringify({
          from: '+15550100000',
          to: '+14155550100',
          answer_url: `${xml.url}/answer`,
          hangup_url: `${xml.url}/hangup`,
        }),
      });
      const { request_uuid } = (await res.json()) as { request_uuid: string };
      expect((await sim.waitForDialed(request_uuid)).status).toBe(outcome);
      if (outcome === 'lost') {
        expect(xml.hits).toHaveLength(0);
        continue;
      }
      expect(xml.hits.map((h) => h.url)).toEqual(['/hangup']);
      expect(Object.fromEntries(new URLSearchParams(xml.hits[0]!.body))).toMatchObject({ CallStatus: outcome });
    }
  });

  it('when a call is placed over the control API faults and ring time, then they apply over HTTP too', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${sim.url}/_sim${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/dial-faults', { outcome: 'nope' })).status).toBe(400);
    expect((await post('/dial-faults', { outcome: 'busy' })).status).toBe(204);
    expect((await post('/ring', { ms: 10 })).status).toBe(204);
    await fetch(`${sim.url}/v1/Account/${sim.authId}/Call/`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ from: '+15550100000', to: '+14155550100', answer_url: `${xml.url}/a` }),
    });
    await until(async () => {
      const dials = (await (await fetch(`${sim.url}/_sim/dials`)).json()) as { status: string }[];
      return dials[0]?.status === 'busy' || undefined;
    }, 'the busy dial');
  });

  it('when a call passes 70 transfers, then Plivo-style it is hung up with "Loop detected"', async () => {
    const quiet = await startSimulator({ fetchXml: false });
    try {
      quiet.createCall('loop');
      const send = () =>
        fetch(`${quiet.url}/v1/Account/${quiet.authId}/Call/loop/`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${quiet.authId}:${quiet.authToken}`).toString('base64')}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ legs: 'aleg', aleg_url: 'http://x/a' }),
        });
      for (let i = 0; i < 70; i++) expect((await send()).status).toBe(202);
      const last = await send();
      expect(last.status).toBe(404);
      expect(await last.json()).toMatchObject({ error: 'Loop detected' });
    } finally {
      await quiet.stop();
    }
  });

  it('when faults are injected, then the next requests get them in order: status with Retry-After, latency, timeout, reset', async () => {
    sim.createCall('call-5');
    const body = { legs: 'aleg', aleg_url: `${xml.url}/x` };
    sim.injectFault({ status: 429, retryAfter: '3' });
    sim.injectFault({ latencyMs: 300 });
    sim.injectFault({ timeout: true });
    sim.injectFault({ reset: true });
    const limited = await transfer('call-5', body);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const started = Date.now();
    expect((await transfer('call-5', body)).status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await expect(transfer('call-5', body, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    await expect(transfer('call-5', body)).rejects.toThrow();
    expect((await transfer('call-5', body)).status).toBe(202);
    expect(sim.received().map((r) => r.status)).toEqual([429, 202, 0, 0, 202]);
    expect(sim.received().map((r) => r.api_id !== null)).toEqual([false, true, false, false, true]);
  });

  it('when a leg XML fetch fails (refused, non-2xx, not a <Response> document), then Plivo-style the call is hung up and later transfers get 404', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases = [
      ['fetch-refused', `${closed}/hold`, /^xml_fetch_failed: .*ECONNREFUSED/],
      ['fetch-503', `${xml.url}/status/503`, /^xml_fetch_failed: answered 503$/],
      ['fetch-html', `${xml.url}/html`, /^xml_fetch_failed: not a Plivo <Response> document$/],
    ] as const;
    for (const [uuid, url, cause] of cases) {
      sim.createCall(uuid);
      expect((await transfer(uuid, { legs: 'aleg', aleg_url: url })).status).toBe(202);
      await sim.waitForXmlFetch(uuid);
      const seen = (await (await fetch(`${sim.url}/_sim/calls/${uuid}`)).json()) as Record<string, unknown>;
      expect(seen).toMatchObject({
        status: 'ended',
        hangup_cause: expect.stringMatching(cause),
        current: { url, fetch_error: expect.any(String) },
      });
      expect((await transfer(uuid, { legs: 'aleg', aleg_url: `${xml.url}/hold` })).status).toBe(404);
    }
    sim.createCall('fetch-ok');
    expect((await transfer('fetch-ok', { legs: 'aleg', aleg_url: `${xml.url}/hold` })).status).toBe(202);
    expect(await sim.waitForXmlFetch('fetch-ok')).toMatchObject({
      status: 'live',
      hangup_cause: null,
      current: { fetch_error: null },
    });
  });

  it('when driven through its control API, then calls, faults, latency and the request log work over HTTP', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${sim.url}/_sim${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/calls', { call_uuid: 'ctl-1', bleg_uuid: 'ctl-1b' })).status).toBe(201);
    expect(await (await fetch(`${sim.url}/_sim/calls/ctl-1`)).json()).toMatchObject({
      call_uuid: 'ctl-1',
      bleg_uuid: 'ctl-1b',
      status: 'live',
    });
    expect((await post('/faults', { status: 503, times: 1 })).status).toBe(204);
    expect((await transfer('ctl-1', { legs: 'aleg', aleg_url: `${xml.url}/x` })).status).toBe(503);
    expect((await post('/calls/ctl-1/hangup', {})).status).toBe(200);
    expect((await transfer('ctl-1', { legs: 'aleg', aleg_url: `${xml.url}/x` })).status).toBe(404);
    const log = (await (await fetch(`${sim.url}/_sim/transfers`)).json()) as { status: number }[];
    expect(log.map((r) => r.status)).toEqual([503, 404]);
    expect((await post('/latency', { ms: 5 })).status).toBe(204);
    expect((await post('/reset', {})).status).toBe(204);
    expect((await fetch(`${sim.url}/_sim/calls/ctl-1`)).status).toBe(404);
  });
});

describe("the simulator behind holdq, when Plivo cannot fetch holdq's XML", () => {
  it('when PUBLIC_BASE_URL does not reach the API, then the hold is completed (Plivo accepted it) but the simulated call ends, and the next intent fails call_not_found', async () => {
    const stack = await startStack({ env: { PUBLIC_BASE_URL: `http://127.0.0.1:${await freePort()}` } });
    try {
      const first = (await (await stack.post({ type: 'hold', call_uuid: 'misrouted-1' })).json()) as IntentView;
      expect(await stack.waitForIntent(first.id)).toMatchObject({ status: 'completed' });
      expect(await stack.sim.waitForXmlFetch('misrouted-1')).toMatchObject({
        status: 'ended',
        hangup_cause: expect.stringMatching(/^xml_fetch_failed: .*ECONNREFUSED/),
      });
      const second = (await (await stack.post({ type: 'unhold', call_uuid: 'misrouted-1' })).json()) as IntentView;
      expect(await stack.waitForIntent(second.id)).toMatchObject({
        status: 'failed',
        error: { code: 'call_not_found' },
      });
    } finally {
      await stack.stop();
    }
  });
});

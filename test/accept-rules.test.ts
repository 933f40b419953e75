import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { signV3 } from '../src/domain/plivo-signature.js';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

describe('refusals known at accept time, and signatures behind a proxy', () => {
  let stack: Stack;
  const PUBLIC = 'https://holdq.example.com/edge';
  beforeAll(async () => {
    stack = await startStack({
      env: {
        TRANSFER_BUDGET: '1',
        QUEUES: JSON.stringify({ support: {} }),
        QUEUES_STRICT: 'true',
        PUBLIC_BASE_URL: PUBLIC,
        TRANSFER_URL_ALLOWLIST: 'holdq.example.com',
      },
      simulator: { fetchXml: false },
    });
  });
  afterAll(() => stack.stop());

  it('when a call has spent its transfer budget, then a new intent for it is refused with 409', async () => {
    const call = `budget-${randomUUID()}`;
    const first = (await (await stack.post({ type: 'hold', call_uuid: call })).json()) as IntentView;
    expect(await stack.waitForIntent(first.id)).toMatchObject({ status: 'completed' });
    const res = await stack.post({ type: 'unhold', call_uuid: call });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({
      status: 409,
      errors: [{ field: 'call_uuid', message: 'transfer budget spent' }],
    });
  });

  it('when no music profiles are configured and an intent names one, then the 422 lists just default, with no trailing comma', async () => {
    const res = await stack.post({ type: 'hold', call_uuid: 'c1', music: 'polka' });
    expect(await res.json()).toMatchObject({
      status: 422,
      errors: [{ field: 'music', message: 'unknown music profile; configured: default' }],
    });
  });

  it('when QUEUES_STRICT is on, then an unknown queue or overflow queue is a 422 naming the field', async () => {
    const res = await stack.post({ type: 'enqueue', call_uuid: 'c1', queue: 'nope', overflow: 'nowhere' });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { errors: { field: string }[] };
    expect(body.errors.map((e) => e.field).sort()).toEqual(['overflow', 'queue']);
    const url = await stack.post({
      type: 'enqueue',
      call_uuid: 'c1',
      queue: 'support',
      overflow: 'https://elsewhere.example/vm',
    });
    expect(await url.json()).toMatchObject({ status: 422, errors: [{ field: 'overflow' }] });
    expect(
      (
        await stack.post({
          type: 'enqueue',
          call_uuid: 'c1',
          queue: 'support',
          overflow: 'https://holdq.example.com/vm',
        })
      ).status,
    ).toBe(202);
  });

  it('when Plivo signs the public URL and a proxy forwards to holdq, then the signature still verifies', async () => {
    const path = '/plivo/xml/hold?call=c1';
    const nonce = '99';
    const form = { CallUUID: 'c1' };
    const signed = (url: string) =>
      fetch(`${stack.apiUrl}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-plivo-signature-v3': signV3(stack.sim.authToken, 'POST', url, nonce, form),
          'x-plivo-signature-v3-nonce': nonce,
        },
        body: new URLSearchParams(form).toString(),
      });
    expect((await signed(`${PUBLIC}${path}`)).status).toBe(200);
    expect((await signed(`${stack.apiUrl}${path}`)).status).toBe(403);
  });

  it('when a URL reads differently to different parsers, then what is checked is what is sent: its WHATWG form', async () => {
    // The WHATWG parser reads host holdq.example.com (allowed) where curl reads 127.0.0.1:9555.
    const call = `norm-${randomUUID()}`;
    const res = await stack.post({
      type: 'transfer',
      call_uuid: call,
      legs: 'aleg',
      aleg_url: 'https://holdq.example.com\\@127.0.0.1:9555/x',
    });
    expect(res.status).toBe(202);
    const { id, aleg_url } = (await res.json()) as IntentView & { aleg_url: string };
    expect(aleg_url).toBe('https://holdq.example.com/@127.0.0.1:9555/x');
    await stack.waitForIntent(id);
    const sent = stack.sim.received().find((t) => t.call_uuid === call)!.body as { aleg_url: string };
    expect(sent.aleg_url).toBe('https://holdq.example.com/@127.0.0.1:9555/x');
    // The other way round, the checked host is the one off the list: refused.
    const off = await stack.post({
      type: 'transfer',
      call_uuid: call,
      legs: 'aleg',
      aleg_url: 'https://127.0.0.1:9555\\@holdq.example.com/x',
    });
    expect(off.status).toBe(422);
    expect(await off.json()).toMatchObject({ errors: [{ field: 'aleg_url' }] });
  });

  it('when an overflow target is neither a queue name nor an absolute http(s) URL, or a URL in disguise, then it is a 422 naming overflow', async () => {
    for (const overflow of [
      'http:127.0.0.1:9555/x',
      ' https://127.0.0.1:9555/x',
      'https:/127.0.0.1:9555/x',
      ' support',
      'ftp://holdq.example.com/x',
      'support\n',
    ]) {
      const res = await stack.post({ type: 'enqueue', call_uuid: `of-${randomUUID()}`, queue: 'support', overflow });
      expect({ overflow, status: res.status }).toEqual({ overflow, status: 422 });
      expect(await res.json()).toMatchObject({ errors: [{ field: 'overflow' }] });
    }
    const odd = await stack.post({
      type: 'enqueue',
      call_uuid: `of-${randomUUID()}`,
      queue: 'support',
      overflow: 'https:holdq.example.com/vm',
    });
    expect(odd.status).toBe(202);
    expect(await odd.json()).toMatchObject({ overflow: 'https://holdq.example.com/vm' });
  });
});

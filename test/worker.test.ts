import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

async function accept(stack: Stack, body: object): Promise<IntentView> {
  const res = await stack.post(body);
  expect(res.status).toBe(202);
  return (await res.json()) as IntentView;
}

const newCall = () => `call-${randomUUID()}`;

describe('worker: intents become Plivo transfers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { TRANSFER_MAX_ATTEMPTS: '4' } });
  });
  afterAll(() => stack.stop());
  beforeEach(() => stack.sim.reset());

  it('when a hold is accepted, then Plivo receives exactly the Transfer contract and the intent completes with its api_id', async () => {
    const callUuid = newCall();
    const intent = await accept(stack, { type: 'hold', call_uuid: callUuid });
    const done = await stack.waitForIntent(intent.id);
    const [req] = stack.sim.received();

    expect(req).toMatchObject({
      call_uuid: callUuid,
      path: `/v1/Account/${stack.sim.authId}/Call/${callUuid}/`,
      auth: `Basic ${Buffer.from(`${stack.sim.authId}:${stack.sim.authToken}`).toString('base64')}`,
      status: 202,
    });
    expect(req!.contentType).toMatch(/^application\/json/);
    expect(req!.body).toEqual({
      legs: 'aleg',
      aleg_url: `${stack.apiUrl}/plivo/xml/hold?call=${callUuid}&music=default`,
      aleg_method: 'POST',
    });
    expect(done).toMatchObject({ status: 'completed', attempts: 1, error: null });
    expect(done.transfers).toHaveLength(1);
    expect(done.transfers[0]).toMatchObject({
      call_uuid: callUuid,
      legs: 'aleg',
      status_code: 202,
      api_id: expect.any(String),
    });
    expect(done.finished_at).not.toBeNull();
  });

  it('when an intent finishes, then one log line says so, with its id, outcome and attempts', async () => {
    stack.sim.injectFault({ status: 404 });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    await stack.waitForIntent(intent.id);
    const lines = stack.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'intent finished' && l.intentId === intent.id);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        status: 'failed',
        attempts: 1,
        error: expect.objectContaining({ code: 'call_not_found' }),
      }),
    ]);
  });

  it('when Plivo answers 500 twice, then the third attempt completes the intent', async () => {
    stack.sim.injectFault({ status: 500, times: 2 });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 3 });
    expect(stack.sim.received().map((r) => r.status)).toEqual([500, 500, 202]);
    expect(done.transfers.map((t) => t.status_code)).toEqual([500, 500, 202]);
  });

  it('when Plivo answers 404, then the intent fails at once with call_not_found', async () => {
    stack.sim.injectFault({ status: 404 });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'call_not_found' } });
    expect(stack.sim.received()).toHaveLength(1);
  });

  it('when Plivo answers another 4xx, then the intent fails at once with upstream_rejected', async () => {
    stack.sim.injectFault({ status: 400 });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'upstream_rejected' } });
    expect(stack.sim.received()).toHaveLength(1);
  });

  it('when Plivo answers 429 with Retry-After: 2, then the retry waits at least 2 s', async () => {
    stack.sim.injectFault({ status: 429, retryAfter: '2' });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    const [first, second] = stack.sim.received();
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(2000);
  });

  it('when Plivo answers 429 with Retry-After: 2 for one call, then a transfer for another call waits out the pause too', async () => {
    const [limited, other] = [newCall(), newCall()];
    stack.sim.injectFault({ status: 429, retryAfter: '2', callUuid: limited });
    const first = await accept(stack, { type: 'hold', call_uuid: limited });
    // The worker records the 429 on the intent after it has told the pacer to pause.
    await stack.waitForIntent(first.id, (r) => r.transfers.some((t) => t.status_code === 429));
    const second = await accept(stack, { type: 'hold', call_uuid: other });
    expect(await stack.waitForIntent(second.id)).toMatchObject({ status: 'completed', attempts: 1 });
    const refusedAt = stack.sim.received().find((r) => r.call_uuid === limited && r.status === 429)!.at;
    const [sent] = stack.sim.received().filter((r) => r.call_uuid === other);
    // A lower bound: nothing reached Plivo for the other call before the 2 s pause ended.
    expect(sent!.at - refusedAt).toBeGreaterThanOrEqual(1950);
    expect(await stack.waitForIntent(first.id)).toMatchObject({ status: 'completed', attempts: 2 });
  });

  it('when a request times out, then it is retried and completes', async () => {
    stack.sim.injectFault({ timeout: true });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
    expect(done.transfers[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/timeout/) });
  });

  it('when the connection is reset, then it is retried and completes', async () => {
    stack.sim.injectFault({ reset: true });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
    expect(done.transfers[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/network error/) });
  });

  it('when Plivo keeps failing, then the intent fails with upstream_unavailable after TRANSFER_MAX_ATTEMPTS', async () => {
    stack.sim.injectFault({ status: 503, times: 10 });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    const done = await stack.waitForIntent(intent.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 4, error: { code: 'upstream_unavailable' } });
    expect(stack.sim.received()).toHaveLength(4);
  });

  it('when a bridged call is held with legs=both and then unheld, then each leg returns by its own UUID into one bridge', async () => {
    const callUuid = newCall();
    const blegUuid = `leg-${randomUUID()}`;
    stack.sim.createCall(callUuid, { blegUuid });
    const hold = await accept(stack, { type: 'hold', call_uuid: callUuid, legs: 'both' });
    expect(await stack.waitForIntent(hold.id)).toMatchObject({ status: 'completed' });
    // Plivo fetches the park XML as the B leg, with its own CallUUID; holdq learns it there.
    await stack.sim.waitForXmlFetch(callUuid);
    const call = stack.sim.getCall(callUuid)!;
    expect(call.bleg_current?.xml).toContain('<Wait');

    const unhold = await accept(stack, { type: 'unhold', call_uuid: callUuid });
    const done = await stack.waitForIntent(unhold.id);
    expect(done).toMatchObject({ status: 'completed' });
    const bridge = `${stack.apiUrl}/plivo/xml/bridge/holdq-${callUuid}`;
    expect(stack.sim.received().map((r) => [r.call_uuid, r.body])).toEqual([
      [callUuid, expect.objectContaining({ legs: 'both' })],
      [callUuid, { legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' }],
      [blegUuid, { legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' }],
    ]);
  });

  it('when unhold comes for a call that is not on hold, then it fails with not_on_hold and sends nothing', async () => {
    const intent = await accept(stack, { type: 'unhold', call_uuid: newCall() });
    expect(await stack.waitForIntent(intent.id)).toMatchObject({ status: 'failed', error: { code: 'not_on_hold' } });
    expect(stack.sim.received()).toHaveLength(0);
  });

  it('when a call is enqueued, then its A leg goes to the queue waiting room XML', async () => {
    const callUuid = newCall();
    const intent = await accept(stack, { type: 'enqueue', call_uuid: callUuid, queue: 'support' });
    expect(await stack.waitForIntent(intent.id)).toMatchObject({ status: 'completed' });
    const fetched = await stack.sim.waitForXmlFetch(callUuid);
    expect(fetched.current?.xml).toContain('<Redirect');
    expect(fetched.current?.url).toBe(`${stack.apiUrl}/plivo/xml/queue/support?call=${callUuid}`);
  });

  it('when several intents for one call arrive together, then Plivo sees them in the order they were accepted', async () => {
    const callUuid = newCall();
    const hold = await accept(stack, { type: 'hold', call_uuid: callUuid });
    const enqueue = await accept(stack, { type: 'enqueue', call_uuid: callUuid, queue: 'sales' });
    const transfer = await accept(stack, {
      type: 'transfer',
      call_uuid: callUuid,
      legs: 'aleg',
      aleg_url: `${stack.apiUrl}/plivo/xml/hold`,
    });
    for (const i of [hold, enqueue, transfer])
      expect(await stack.waitForIntent(i.id)).toMatchObject({ status: 'completed' });
    expect(stack.sim.received().map((r) => (r.body as { aleg_url: string }).aleg_url)).toEqual([
      expect.stringContaining('/plivo/xml/hold?'),
      expect.stringContaining('/plivo/xml/queue/sales'),
      `${stack.apiUrl}/plivo/xml/hold`,
    ]);
  });

  it('when the work is done, then /metrics counts intents, Plivo answers and retries', async () => {
    stack.sim.injectFault({ status: 502 });
    const intent = await accept(stack, { type: 'hold', call_uuid: newCall() });
    await stack.waitForIntent(intent.id);
    expect((await stack.post({ type: 'hold' })).status).toBe(422);
    const text = await (await stack.get('/metrics', { key: null })).text();
    expect(text).toMatch(/holdq_intents_received_total\{type="hold"\} [1-9]/);
    expect(text).toMatch(/holdq_intents_finished_total\{type="hold",outcome="completed"\} [1-9]/);
    expect(text).toMatch(/holdq_plivo_requests_total\{status="502",account="default"\} 1/);
    expect(text).toMatch(/holdq_transfer_retries_total\{reason="http_5xx",account="default"\} [1-9]/);
    expect(text).toMatch(/holdq_intent_duration_seconds_count\{type="hold",outcome="completed"\} [1-9]/);
    expect(text).toMatch(/holdq_plivo_request_duration_seconds_count\{account="default"\} [1-9]/);
    expect(text).toMatch(/holdq_plivo_rate_wait_seconds_count\{class="interactive",account="default"\} [1-9]/);
    expect(text).toMatch(/holdq_jobs\{state="waiting",account="default"\} \d+/);
    expect(text).toMatch(/holdq_http_requests_total\{method="POST",route="\/v1\/intents",status="202"\} [1-9]/);
    expect(text).toMatch(/holdq_http_requests_total\{method="POST",route="\/v1\/intents",status="422"\} 1/);
    expect(text).toMatch(/holdq_plivo_simulated\{account="default"\} 0/);
  });
});

describe('worker: the transfer budget', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { TRANSFER_BUDGET: '2' } });
  });
  afterAll(() => stack.stop());

  it('when an intent would pass TRANSFER_BUDGET, then it fails with transfer_limit and is not sent', async () => {
    const callUuid = newCall();
    const ids: string[] = [];
    for (const type of ['hold', 'enqueue', 'hold'] as const) {
      ids.push((await accept(stack, { type, call_uuid: callUuid, ...(type === 'enqueue' ? { queue: 'q' } : {}) })).id);
    }
    const results = [];
    for (const id of ids) results.push(await stack.waitForIntent(id));
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'failed']);
    expect(results[2]!.error).toMatchObject({ code: 'transfer_limit' });
    expect(stack.sim.received()).toHaveLength(2);
  });
});

import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_KEY, startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

const SECRET = 'callback-secret-0123456789';

describe('dead letters and retry', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { TRANSFER_MAX_ATTEMPTS: '2' } });
  });
  afterAll(() => stack.stop());

  it('when intents fail, then GET /v1/intents?status=failed lists them newest first, page by page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      stack.sim.injectFault({ status: 404 });
      const res = await stack.post({ type: 'hold', call_uuid: `dl-${randomUUID()}` });
      const { id } = (await res.json()) as IntentView;
      await stack.waitForIntent(id);
      ids.push(id);
    }
    const page1 = (await (await stack.get('/v1/intents?status=failed&limit=2')).json()) as {
      items: IntentView[];
      total: number;
      next_cursor: string | null;
    };
    expect(page1.total).toBe(3);
    expect(page1.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
    expect(page1.items[0]).toMatchObject({ status: 'failed', error: { code: 'call_not_found' } });
    const page2 = (await (await stack.get(`/v1/intents?status=failed&limit=2&cursor=${page1.next_cursor}`)).json()) as {
      items: IntentView[];
      next_cursor: string | null;
    };
    expect(page2.items.map((i) => i.id)).toEqual([ids[0]]);
    expect(page2.next_cursor).toBeNull();
  });

  it('when the query asks for another status, then it is a 422 naming the parameter', async () => {
    const res = await stack.get('/v1/intents?status=completed');
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ errors: [{ field: 'status' }] });
    expect((await stack.get('/v1/intents?status=failed&limit=0')).status).toBe(422);
  });

  it('when a failed intent is retried, then it runs again and completes, and leaves the dead letters', async () => {
    stack.sim.injectFault({ status: 503, times: 2 });
    const res = await stack.post({ type: 'hold', call_uuid: `dl-${randomUUID()}` });
    const { id } = (await res.json()) as IntentView;
    expect(await stack.waitForIntent(id)).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_unavailable' },
      attempts: 2,
    });

    // Re-running a dead letter is for admin keys; an API key is refused and nothing changes.
    const refused = await fetch(`${stack.apiUrl}/v1/intents/${id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}` },
    });
    expect(refused.status).toBe(403);
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'failed' });
    const retry = await fetch(`${stack.apiUrl}/v1/intents/${id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(retry.status).toBe(202);
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed', attempts: 3, error: null });
    const list = (await (await stack.get('/v1/intents?status=failed&limit=200')).json()) as { items: IntentView[] };
    expect(list.items.map((i) => i.id)).not.toContain(id);

    const again = await fetch(`${stack.apiUrl}/v1/intents/${id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(again.status).toBe(409);
  });

  it('when a failed intent is retried after a newer intent for its call took effect, then it ends superseded and Plivo hears nothing of it', async () => {
    const callUuid = `dl-${randomUUID()}`;
    stack.sim.injectFault({ status: 400, callUuid });
    const first = (await (await stack.post({ type: 'hold', call_uuid: callUuid })).json()) as IntentView;
    expect(await stack.waitForIntent(first.id)).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_rejected' },
    });
    const second = (await (
      await stack.post({ type: 'enqueue', call_uuid: callUuid, queue: 'dl-q' })
    ).json()) as IntentView;
    expect(await stack.waitForIntent(second.id)).toMatchObject({ status: 'completed' });
    const sent = () =>
      stack.sim
        .received()
        .filter((t) => t.call_uuid === callUuid)
        .map((t) => t.status);
    expect(sent()).toEqual([400, 202]);

    const retry = await fetch(`${stack.apiUrl}/v1/intents/${first.id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(retry.status).toBe(202);
    // The retry answered 202 with the record queued again, so the next finish is the retry's own.
    const done = await stack.waitForIntent(first.id);
    expect(done).toMatchObject({ status: 'superseded', error: null });
    expect(done.transfers.map((t) => t.status_code)).toEqual([400]);
    // Finished without a transfer: Plivo got none, and the call stays where the newer intent put it.
    expect(sent()).toEqual([400, 202]);
    expect(await (await stack.get(`/v1/calls/${callUuid}`)).json()).toMatchObject({
      state: 'queued',
      queue: 'dl-q',
      last_intent_id: second.id,
    });
    expect(await (await stack.get('/metrics', { key: null })).text()).toMatch(
      /holdq_intents_finished_total\{type="hold",outcome="superseded"\} 1/,
    );
  });
});

describe('completion callbacks', () => {
  let stack: Stack;
  let receiver: Receiver;
  beforeAll(async () => {
    // Fails its first two deliveries.
    receiver = await startReceiver((before) => ({ status: before < 2 ? 500 : 200 }));
    stack = await startStack({ env: { CALLBACK_SECRET: SECRET } });
  });
  afterAll(async () => {
    await stack.stop();
    await receiver.stop();
  });

  it('when an intent with callback_url finishes, then the record is POSTed, signed, and retried until the receiver takes it', async () => {
    const res = await stack.post({ type: 'hold', call_uuid: `cb-${randomUUID()}`, callback_url: receiver.url });
    const { id } = (await res.json()) as IntentView;
    // The intent completes without waiting for the failing receiver.
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed' });
    const deliveries = await receiver.waitFor(3);
    expect(deliveries.map((d) => d.status)).toEqual([500, 500, 200]);
    const last = deliveries[2]!;
    expect(JSON.parse(last.body)).toMatchObject({ id, status: 'completed', callback_url: receiver.url });
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(last.headers['x-holdq-signature'])) ?? [];
    expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${last.body}`).digest('hex'));
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHoldqClient, HoldqError, type HoldqEvent } from '../src/client/index.js';
import { startStack, TEST_KEY, type Stack } from './helpers/stack.js';

/** The typed client (src/client), generated from /openapi.json, against a running holdq. */
describe('the typed client', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  it('when an intent is posted twice with one idempotency key, then both answers are the same intent, and waiting sees it complete', async () => {
    const client = createHoldqClient({ baseUrl: stack.apiUrl, apiKey: TEST_KEY });
    const first = await client.postIntent({ type: 'hold', call_uuid: 'cl-1' }, { idempotencyKey: 'k-cl-1' });
    const again = await client.postIntent({ type: 'hold', call_uuid: 'cl-1' }, { idempotencyKey: 'k-cl-1' });
    expect(again.id).toBe(first.id);
    const seen: string[] = [];
    const done = await client.waitForIntent(first.id, { onProgress: (i) => seen.push(i.status), intervalMs: 20 });
    expect(done.status).toBe('completed');
    expect(seen.at(-1)).toBe('completed');
    expect(await client.getCall('cl-1')).toMatchObject({ call_uuid: 'cl-1', state: 'on_hold', held_legs: 'aleg' });
    const page = await client.listQueues();
    expect(Array.isArray(page.items)).toBe(true);
  });

  it('when holdq refuses, then the error carries the status and the problem naming the field', async () => {
    const client = createHoldqClient({ baseUrl: stack.apiUrl, apiKey: TEST_KEY });
    const err = await client.postIntent({ type: 'hold', call_uuid: '../etc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoldqError);
    expect(err).toMatchObject({ status: 422, problem: { errors: [{ field: 'call_uuid' }] } });
    const bad = createHoldqClient({ baseUrl: stack.apiUrl, apiKey: 'wrong-key-0123456789' });
    await expect(bad.getQueue('support')).rejects.toMatchObject({ status: 401 });
  });

  it('when the event stream drops mid-way, then the client reconnects with Last-Event-ID: every event once, in order', async () => {
    // A fetch that cuts the first stream 400 ms in, as a restarting API or a proxy would.
    let streams = 0;
    const cutting: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (!url.includes('/v1/events')) return fetch(input, init);
      streams++;
      const controller = new AbortController();
      init?.signal?.addEventListener('abort', () => controller.abort());
      if (streams === 1) setTimeout(() => controller.abort(), 400);
      return fetch(input, { ...init, signal: controller.signal });
    };
    const client = createHoldqClient({ baseUrl: stack.apiUrl, apiKey: TEST_KEY, fetch: cutting });
    const stop = new AbortController();
    const got: { id: string | null; event: HoldqEvent }[] = [];
    const following = (async () => {
      for await (const e of client.events({
        callUuid: 'cl-drop',
        types: ['intent.completed'],
        signal: stop.signal,
        retryMs: 100,
      })) {
        got.push(e);
        if (got.length === 4) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 150));
    for (let i = 0; i < 4; i++) {
      const v = await client.postIntent({ type: i % 2 === 0 ? 'hold' : 'unhold', call_uuid: 'cl-drop' });
      await client.waitForIntent(v.id, { intervalMs: 20 });
      await new Promise((r) => setTimeout(r, 200)); // two before the cut, two after
    }
    await following;
    stop.abort();
    expect(streams).toBeGreaterThanOrEqual(2);
    expect(got.map((e) => e.event.type)).toEqual([
      'intent.completed',
      'intent.completed',
      'intent.completed',
      'intent.completed',
    ]);
    expect(new Set(got.map((e) => e.id)).size).toBe(4);
    expect(got.map((e) => (e.event as { intent_type: string }).intent_type)).toEqual([
      'hold',
      'unhold',
      'hold',
      'unhold',
    ]);
  });
});

/**
 * Completion callbacks whose receiver misbehaves, and the SSRF guard at delivery time
 * (src/worker/callbacks.ts). Here a delivery is tried 3 times from 10 ms (WorkerDeps.callbacks)
 * instead of 8 times from 1 s, so "dropped after the last attempt" takes milliseconds.
 */
import { randomUUID } from 'node:crypto';
import dns, { type LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startStack, until, type IntentView, type LogLine, type Stack } from './helpers/stack.js';

const ATTEMPTS = 3;
const DROPPED = 'completion callback dropped after retries';

async function finishWithCallback(stack: Stack, callbackUrl: string): Promise<IntentView> {
  const res = await stack.post({ type: 'hold', call_uuid: `cb-${randomUUID()}`, callback_url: callbackUrl });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as IntentView;
  // The intent finishes on its own: a failing receiver never holds it up.
  expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed' });
  return (await (await stack.get(`/v1/intents/${id}`)).json()) as IntentView;
}

const droppedLine = (stack: Stack, intentId: string) =>
  stack.waitForLog((l: LogLine) => l.msg === DROPPED && l.intentId === intentId, { past: true });

async function callbackCounts(stack: Stack) {
  const count = (outcome: string) => stack.metric('holdq_callbacks_total', { outcome });
  return { delivered: await count('delivered'), retried: await count('retried'), dropped: await count('dropped') };
}

describe('completion callbacks to a receiver that misbehaves', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No CALLBACK_SECRET: deliveries go unsigned.
    stack = await startStack({ callbacks: { attempts: ATTEMPTS, backoffMs: 10 } });
  });
  afterAll(() => stack.stop());

  it('when the receiver always fails, then the delivery is dropped after its last attempt, counted and logged as a warning', async () => {
    const receiver = await startReceiver(() => ({ status: 500 }));
    try {
      const before = await callbackCounts(stack);
      const intent = await finishWithCallback(stack, receiver.url);
      const line = await droppedLine(stack, intent.id);
      expect(line).toMatchObject({ level: 'warn', err: { message: 'callback answered 500' } });
      expect(receiver.deliveries.map((d) => d.status)).toEqual([500, 500, 500]);
      expect(JSON.parse(receiver.deliveries[ATTEMPTS - 1]!.body)).toMatchObject({ id: intent.id, status: 'completed' });
      expect(await callbackCounts(stack)).toEqual({
        delivered: before.delivered,
        retried: before.retried + ATTEMPTS - 1,
        dropped: before.dropped + 1,
      });
    } finally {
      await receiver.stop();
    }
  });

  it('when no CALLBACK_SECRET is set, then the delivery carries no X-Holdq-Signature header', async () => {
    const receiver = await startReceiver();
    try {
      const before = await callbackCounts(stack);
      const intent = await finishWithCallback(stack, receiver.url);
      const [delivery] = await receiver.waitFor(1);
      expect(delivery).toMatchObject({ method: 'POST', path: '/hook', status: 200 });
      expect(delivery!.headers['content-type']).toBe('application/json');
      expect(delivery!.headers).not.toHaveProperty('x-holdq-signature');
      expect(JSON.parse(delivery!.body)).toEqual(intent);
      // The worker counts the delivery once the answer is back, a moment after the receiver saw it.
      await until(
        async () => (await callbackCounts(stack)).delivered === before.delivered + 1,
        'the delivery to be counted',
      );
      expect(await callbackCounts(stack)).toEqual({ ...before, delivered: before.delivered + 1 });
    } finally {
      await receiver.stop();
    }
  });

  it('when the receiver answers 302 with a Location, then the redirect is not followed and counts as a failed attempt', async () => {
    const target = await startReceiver();
    const redirecting = await startReceiver(() => ({ status: 302, headers: { location: target.url } }));
    try {
      const before = await callbackCounts(stack);
      const intent = await finishWithCallback(stack, redirecting.url);
      expect(await droppedLine(stack, intent.id)).toMatchObject({
        level: 'warn',
        err: { message: 'callback answered 302' },
      });
      expect(redirecting.deliveries.map((d) => d.status)).toEqual([302, 302, 302]);
      expect(target.deliveries).toEqual([]);
      expect(await callbackCounts(stack)).toEqual({
        delivered: before.delivered,
        retried: before.retried + ATTEMPTS - 1,
        dropped: before.dropped + 1,
      });
    } finally {
      await Promise.all([target.stop(), redirecting.stop()]);
    }
  });
});

describe('the SSRF guard when a callback is delivered', () => {
  let stack: Stack;
  let receiver: Receiver;
  const asked: string[] = [];
  /** DNS as the guard sees it: inward.test names this machine, every other name goes to the system. */
  const resolve = (host: string, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
    asked.push(host);
    if (host === 'inward.test') cb(null, [{ address: '127.0.0.1', family: 4 }]);
    else dns.lookup(host, { all: true }, cb);
  };
  beforeAll(async () => {
    receiver = await startReceiver();
    // The intents were accepted while private targets were allowed (the API still allows them);
    // the worker delivering them has CALLBACK_ALLOW_PRIVATE=false.
    stack = await startStack({
      workerEnv: { CALLBACK_ALLOW_PRIVATE: 'false' },
      callbacks: { attempts: ATTEMPTS, backoffMs: 10, resolve },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await receiver.stop();
  });

  it("when a record's callback_url targets a private address, then it is never delivered: dropped at its first attempt", async () => {
    const before = await callbackCounts(stack);
    const intent = await finishWithCallback(stack, receiver.url);
    expect(intent.callback_url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(await droppedLine(stack, intent.id)).toMatchObject({
      level: 'warn',
      err: { message: 'callback_url targets a non-public address' },
    });
    expect(receiver.deliveries).toEqual([]);
    expect(await callbackCounts(stack)).toEqual({
      delivered: before.delivered,
      retried: before.retried,
      dropped: before.dropped + 1,
    });
  });

  it('when a callback host name resolves only to private addresses, then the connection is refused after DNS and never retried', async () => {
    const before = await callbackCounts(stack);
    const intent = await finishWithCallback(stack, `http://inward.test:${receiver.port}/hook`);
    const line = await droppedLine(stack, intent.id);
    expect(line).toMatchObject({
      level: 'warn',
      err: { message: expect.stringContaining('inward.test resolves only to non-public addresses') },
    });
    expect(asked).toContain('inward.test');
    expect(receiver.deliveries).toEqual([]);
    expect(await callbackCounts(stack)).toEqual({
      delivered: before.delivered,
      retried: before.retried,
      dropped: before.dropped + 1,
    });
  });
});

import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_KEY, startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

const SECRET = 'callback-secret-0123456789';

/** A receiver for completion callbacks that fails its first `failFirst` deliveries. */
async function startReceiver(failFirst: number) {
  const deliveries: { body: string; signature: string | undefined; status: number }[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = deliveries.length < failFirst ? 500 : 200;
      deliveries.push({ body, signature: req.headers['x-holdq-signature'] as string | undefined, status });
      res.writeHead(status).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    async waitFor(n: number, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (deliveries.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${deliveries.length} of ${n} callbacks arrived`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return deliveries;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
    const page1 = (await (await stack.get('/v1/intents?status=failed&limit=2')).json()) as { items: IntentView[]; total: number; next_cursor: string | null };
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
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'failed', error: { code: 'upstream_unavailable' }, attempts: 2 });

    // Re-running a dead letter is for admin keys; an API key is refused and nothing changes.
    const refused = await fetch(`${stack.apiUrl}/v1/intents/${id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${TEST_KEY}` } });
    expect(refused.status).toBe(403);
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'failed' });
    const retry = await fetch(`${stack.apiUrl}/v1/intents/${id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(retry.status).toBe(202);
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed', attempts: 3, error: null });
    const list = (await (await stack.get('/v1/intents?status=failed&limit=200')).json()) as { items: IntentView[] };
    expect(list.items.map((i) => i.id)).not.toContain(id);

    const again = await fetch(`${stack.apiUrl}/v1/intents/${id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(again.status).toBe(409);
  });
});

describe('completion callbacks', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver(2);
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
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(last.signature ?? '') ?? [];
    expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${last.body}`).digest('hex'));
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
  });
});

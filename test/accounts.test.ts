import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { openStream } from './helpers/sse.js';
import { ADMIN_KEY, startStack, type IntentView, type Stack } from './helpers/stack.js';

const ACME_KEY = 'other-secret-0123456789'; // testConfig's second API key, client "other"
const ACME_TOKEN = 'acme-auth-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Most arrivals in any 1 s window. */
function maxInAnySecond(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * SPEC §12: several Plivo accounts in one holdq. Two fake Plivo accounts at once, each with its own
 * credentials, rate and token; a key of each account; one real API and worker on a real Redis.
 */
describe('several Plivo accounts', () => {
  let defaultPlivo: Awaited<ReturnType<typeof startFakePlivo>>;
  let acmePlivo: Awaited<ReturnType<typeof startFakePlivo>>;
  let stack: Stack;
  beforeAll(async () => {
    defaultPlivo = await startFakePlivo({ latencyMs: [0, 2], failureRate: 0 });
    acmePlivo = await startFakePlivo({ latencyMs: [0, 2], failureRate: 0 });
    stack = await startStack({
      env: {
        PLIVO_BASE_URL: defaultPlivo.url,
        PLIVO_MAX_RPS: '40',
        // Fewer worker slots than acme's burst: a shared pool would fill with acme's jobs waiting for its rate.
        WORKER_CONCURRENCY: '4',
        PLIVO_ACCOUNTS: JSON.stringify([
          {
            name: 'acme',
            auth_id: 'MAACME',
            auth_token: ACME_TOKEN,
            base_url: acmePlivo.url,
            max_rps: 5,
            transfer_budget: 3,
          },
        ]),
        API_KEY_ACCOUNTS: 'other=acme',
        TRANSFER_URL_ALLOWLIST: 'example.com',
        QUEUES: JSON.stringify({ support: { max_size: 10 } }),
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await defaultPlivo.stop();
    await acmePlivo.stop();
  });

  const post = async (body: object, key?: string) => {
    const res = await stack.post(body, key ? { key } : {});
    expect(res.status).toBe(202);
    return (await res.json()) as IntentView;
  };
  const finished = (v: IntentView, key?: string) => waitFor(v.id, key);
  async function waitFor(id: string, key?: string): Promise<IntentView> {
    for (let i = 0; i < 500; i++) {
      const res = await stack.get(`/v1/intents/${id}`, key ? { key } : {});
      if (res.status === 200) {
        const v = (await res.json()) as IntentView;
        if (['completed', 'failed', 'superseded'].includes(v.status)) return v;
      }
      await sleep(20);
    }
    throw new Error(`intent ${id} did not finish`);
  }

  it("when each account's client holds a call, then each transfer goes to its own account, pointing at its own XML", async () => {
    const mine = await finished(await post({ type: 'hold', call_uuid: 'acct-call-1', legs: 'aleg' }));
    const theirs = await finished(
      await post({ type: 'hold', call_uuid: 'acct-call-1', legs: 'aleg' }, ACME_KEY),
      ACME_KEY,
    );
    expect([mine.status, theirs.status]).toEqual(['completed', 'completed']);
    const atDefault = defaultPlivo.transfers.filter((t) => t.callUuid === 'acct-call-1');
    const atAcme = acmePlivo.transfers.filter((t) => t.callUuid === 'acct-call-1');
    expect(atDefault).toHaveLength(1);
    expect(atAcme).toHaveLength(1);
    expect(atAcme[0]!.authId).toBe('MAACME');
    expect(atDefault[0]!.authId).not.toBe('MAACME');
    expect(atDefault[0]!.body.aleg_url).toMatch(/\/plivo\/xml\/hold\?call=acct-call-1/);
    expect(atAcme[0]!.body.aleg_url).toMatch(/\/plivo\/acct\/acme\/xml\/hold\?call=acct-call-1/);
    // One call UUID, two accounts: two calls, each on hold in its own account.
    expect(((await (await stack.get('/v1/calls/acct-call-1')).json()) as { state: string }).state).toBe('on_hold');
    expect(
      ((await (await stack.get('/v1/calls/acct-call-1', { key: ACME_KEY })).json()) as { state: string }).state,
    ).toBe('on_hold');
  });

  it("when a client asks for another account's intent, call or queue, then it is 404, as if it did not exist", async () => {
    const theirs = await finished(
      await post({ type: 'hold', call_uuid: 'acme-only', legs: 'aleg' }, ACME_KEY),
      ACME_KEY,
    );
    await finished(await post({ type: 'enqueue', call_uuid: 'acme-caller', queue: 'support' }, ACME_KEY), ACME_KEY);
    const notMine = await stack.get(`/v1/intents/${theirs.id}`);
    expect(notMine.status).toBe(404);
    expect(notMine.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await stack.get(`/v1/intents/${theirs.id}`, { key: 'viewer-secret-0123456789' })).status).toBe(404);
    expect((await stack.get('/v1/calls/acme-only')).status).toBe(404);
    expect((await stack.post({}, { raw: '' })).status).toBe(422); // (a sanity check of the key itself)
    // The queue "support" exists in both accounts; the default one has nobody waiting.
    const q = (name: string, key?: string) =>
      stack.get(`/v1/queues/${name}`, key ? { key } : {}).then((r) => r.json() as Promise<{ waiting: number }>);
    expect((await q('support')).waiting).toBe(0);
    expect((await q('support', ACME_KEY)).waiting).toBe(1);
    // A dequeue by the default account's agent cannot take acme's caller.
    const dq = await finished(await post({ type: 'dequeue', queue: 'support', agent_call_uuid: 'default-agent' }));
    expect(dq).toMatchObject({ status: 'failed', error: { code: 'queue_empty' } });
    expect((await q('support', ACME_KEY)).waiting).toBe(1);
    // Retrying another account's intent: 404 too (an admin key of the default account).
    const retry = await fetch(`${stack.apiUrl}/v1/intents/${theirs.id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(retry.status).toBe(404);
  });

  it("when Plivo fetches an account's XML, then only that account's token signs it", async () => {
    const acmeHold = '/plivo/acct/acme/xml/hold?call=acme-only&music=default';
    expect((await stack.plivo(acmeHold, { method: 'GET', token: ACME_TOKEN })).status).toBe(200);
    expect((await stack.plivo(acmeHold, { method: 'GET' })).status).toBe(403); // the default account's token
    expect((await stack.plivo(acmeHold, { method: 'GET', sign: false })).status).toBe(403);
    const defaultHold = '/plivo/xml/hold?call=acct-call-1&music=default';
    expect((await stack.plivo(defaultHold, { method: 'GET' })).status).toBe(200);
    expect((await stack.plivo(defaultHold, { method: 'GET', token: ACME_TOKEN })).status).toBe(403);
    // Plivo's events too: a hangup signed for acme ends acme's call, not the default account's one.
    const hangup = await stack.plivo('/plivo/acct/acme/events/hangup', {
      token: ACME_TOKEN,
      form: { CallUUID: 'acct-call-1' },
    });
    expect(hangup.status).toBe(204);
    expect(
      ((await (await stack.get('/v1/calls/acct-call-1', { key: ACME_KEY })).json()) as { state: string }).state,
    ).toBe('ended');
    expect(((await (await stack.get('/v1/calls/acct-call-1')).json()) as { state: string }).state).toBe('on_hold');
    // An account holdq does not have: 404 when signed as the default account, 403 unsigned.
    expect((await stack.plivo('/plivo/acct/nobody/xml/hold?call=x', { method: 'GET' })).status).toBe(404);
    expect((await stack.plivo('/plivo/acct/nobody/xml/hold?call=x', { method: 'GET', sign: false })).status).toBe(403);
  });

  it("when each account has its own transfer budget, then each call is held to its account's", async () => {
    const call = 'budget-call';
    const bodies = Array.from({ length: 4 }, (_, i) =>
      i % 2 ? { type: 'unhold', call_uuid: call } : { type: 'hold', call_uuid: call, legs: 'aleg' },
    );
    const statuses: number[] = [];
    for (const b of bodies) {
      const res = await stack.post(b, { key: ACME_KEY });
      statuses.push(res.status);
      if (res.status === 202) await finished((await res.json()) as IntentView, ACME_KEY);
    }
    // acme's budget is 3: the fourth transfer is refused at the door (409 transfer_limit).
    expect(statuses).toEqual([202, 202, 202, 409]);
    const call3 = (await (await stack.get(`/v1/calls/${call}`, { key: ACME_KEY })).json()) as {
      transfer_budget: number;
    };
    expect(call3.transfer_budget).toBe(3);
    expect(
      ((await (await stack.get('/v1/calls/acct-call-1')).json()) as { transfer_budget: number }).transfer_budget,
    ).toBe(60);
  });

  it("when one account's burst waits for its rate, then each account keeps its own rate and the other is not slowed", async () => {
    acmePlivo.transfers.length = 0;
    defaultPlivo.transfers.length = 0;
    const burst = (n: number, prefix: string, key?: string) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          post(
            { type: 'transfer', call_uuid: `${prefix}-${i}`, legs: 'aleg', aleg_url: 'https://example.com/x.xml' },
            key,
          ),
        ),
      );
    const acme = await burst(15, 'acme-burst', ACME_KEY); // 3 s at 5 a second
    const mine = await burst(40, 'default-burst'); // 1 s at 40 a second
    for (const v of mine) await finished(v);
    for (const v of acme) await finished(v, ACME_KEY);
    expect(maxInAnySecond(acmePlivo.transfers.map((t) => t.startedAt))).toBeLessThanOrEqual(5);
    expect(maxInAnySecond(defaultPlivo.transfers.map((t) => t.startedAt))).toBeLessThanOrEqual(40);
    // Each account's transfers, from its first to its last arrival at its Plivo.
    const span = (ts: { startedAt: number }[]) =>
      Math.max(...ts.map((t) => t.startedAt)) - Math.min(...ts.map((t) => t.startedAt));
    const acmeSpan = span(acmePlivo.transfers);
    expect(acmeSpan).toBeGreaterThan(2000); // 15 at 5 a second
    // The default account's 40 went at its own rate, long before acme's 15 were through.
    expect(span(defaultPlivo.transfers)).toBeLessThan(acmeSpan / 2);
    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toMatch(/holdq_plivo_requests_total\{status="202",account="acme"\} [1-9]/);
    expect(metrics).toMatch(/holdq_plivo_requests_total\{status="202",account="default"\} [1-9]/);
    expect(metrics).toMatch(/holdq_queue_callers\{queue="support",account="acme"\} \d+/);
    expect(metrics).toMatch(/holdq_queue_callers\{queue="support",account="default"\} 0/);
    expect(metrics).toMatch(/holdq_jobs\{state="waiting",account="acme"\} \d+/);
  }, 30_000);

  it("when an operator of one account opens the admin board, then it shows that account's queues only", async () => {
    const board = await fetch(`${stack.apiUrl}/admin/queues/api/queues`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(board.status).toBe(200);
    const names = ((await board.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['callbacks', 'intent-jobs']);
    const theirs = await fetch(`${stack.apiUrl}/admin/queues/api/queues`, {
      headers: { authorization: `Bearer ${ACME_KEY}` },
    });
    expect(((await theirs.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort()).toEqual([
      'callbacks-acme',
      'intent-jobs-acme',
    ]);
  });
  it("when both accounts' clients act on one call UUID, then each account's event stream carries its own events only", async () => {
    const mine = await openStream(`${stack.apiUrl}/v1/events?call_uuid=acct-events`);
    const theirs = await openStream(`${stack.apiUrl}/v1/events?call_uuid=acct-events`, { key: ACME_KEY });
    const a = await finished(await post({ type: 'hold', call_uuid: 'acct-events', legs: 'aleg' }));
    await mine.waitFor((e) => e.event === 'intent.completed');
    const b = await finished(await post({ type: 'hold', call_uuid: 'acct-events', legs: 'aleg' }, ACME_KEY), ACME_KEY);
    await theirs.waitFor((e) => e.event === 'intent.completed');
    await sleep(300);
    expect(mine.events.map((e) => e.json.intent_id).filter(Boolean)).toEqual([a.id, a.id, a.id]);
    expect(theirs.events.map((e) => e.json.intent_id).filter(Boolean)).toEqual([b.id, b.id, b.id]);
    mine.close();
    theirs.close();
  });
});

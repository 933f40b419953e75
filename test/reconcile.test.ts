import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createPlivoClient } from '../src/infra/plivo-client.js';
import { startWorker } from '../src/worker/start-worker.js';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { openStream } from './helpers/sse.js';
import { captureLogs, startStack, type IntentView, type Stack } from './helpers/stack.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

/**
 * Reconciliation with Plivo (SPEC §11): a fake Plivo answers transfers and the live-call list;
 * the worker that holds the lease lists the live calls every RECONCILE_INTERVAL_SECONDS and ends
 * the waiting and held calls Plivo no longer has, as if their hangup callback had come.
 */
describe('reconciliation with Plivo', () => {
  let fake: Awaited<ReturnType<typeof startFakePlivo>>;
  let stack: Stack;
  const post = async (body: object) => {
    const res = await stack.post(body);
    expect(res.status).toBe(202);
    return stack.waitForIntent(((await res.json()) as IntentView).id);
  };
  const state = async (call: string) =>
    ((await (await stack.get(`/v1/calls/${call}`)).json()) as { state: string }).state;

  beforeAll(async () => {
    fake = await startFakePlivo({ latencyMs: [0, 2], failureRate: 0 });
    stack = await startStack({
      env: { PLIVO_BASE_URL: fake.url, RECONCILE_INTERVAL_SECONDS: '2', CALLBACK_CALLER_ID: '+15550100000' },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await fake.stop();
  });

  it("when a caller's hangup callback never came, then it leaves its queue as abandoned within an interval or two, with its events; live callers stay", async () => {
    fake.setLive(['rc-live', 'rc-held-live']);
    const s = await openStream(`${stack.apiUrl}/v1/events?types=queue.left,call.ended`);
    for (const call of ['rc-gone', 'rc-live']) await post({ type: 'enqueue', call_uuid: call, queue: 'rq' });
    for (const call of ['rc-held-gone', 'rc-held-live']) await post({ type: 'hold', call_uuid: call });
    const before = await stack.metric('holdq_reconcile_ended_total', { account: 'default' });
    await until(async () => (await state('rc-gone')) === 'ended', 8000, 'rc-gone ends');
    await until(async () => (await state('rc-held-gone')) === 'ended', 8000, 'rc-held-gone ends');
    const queue = (await (await stack.get('/v1/queues/rq')).json()) as { members: { call_uuid: string }[] };
    expect(queue.members.map((m) => m.call_uuid)).toEqual(['rc-live']);
    expect(await state('rc-held-live')).toBe('on_hold');
    const [left] = await s.waitFor((e) => e.event === 'queue.left' && e.json.call_uuid === 'rc-gone');
    expect(left!.json).toMatchObject({ queue: 'rq', reason: 'abandoned' });
    await s.waitFor((e) => e.event === 'call.ended' && e.json.call_uuid === 'rc-held-gone');
    expect((await stack.metric('holdq_reconcile_ended_total', { account: 'default' })) - before).toBe(2);
    s.close();
  }, 20_000);

  it('when a call has been tracked for less than an interval, then it is never dropped, even if Plivo does not list it yet', async () => {
    fake.setLive(['rc-live', 'rc-held-live']);
    const done = await post({ type: 'enqueue', call_uuid: 'rc-young', queue: 'rq' });
    const joined = Date.parse(done.updated_at);
    // Rounds run every half second; for the first 2 s of its wait (the interval), none may end it.
    while (Date.now() - joined < 1500) {
      expect(await state('rc-young')).toBe('queued');
      await sleep(100);
    }
    // Plivo still does not have it: once older than an interval, it goes.
    await until(async () => (await state('rc-young')) === 'ended', 8000, 'rc-young ends');
  }, 20_000);

  it('when Plivo answers the live list with an error, then nobody is dropped, and the round counts as a Plivo error', async () => {
    await post({ type: 'enqueue', call_uuid: 'rc-during-error', queue: 'rq' });
    fake.setLive(503);
    const errors = await stack.metric('holdq_reconcile_runs_total', { account: 'default', outcome: 'plivo_error' });
    await until(
      async () =>
        (await stack.metric('holdq_reconcile_runs_total', { account: 'default', outcome: 'plivo_error' })) >=
        errors + 2,
      10_000,
      'two rounds with a Plivo error',
    );
    expect(await state('rc-during-error')).toBe('queued');
    expect(await state('rc-live')).toBe('queued');
    fake.setLive(['rc-live', 'rc-held-live', 'rc-during-error']);
  }, 20_000);

  it('when a callback member hung up on purpose, then reconciliation keeps it: its place waits for the call back, not for its line', async () => {
    fake.setLive(['rc-live', 'rc-held-live', 'rc-during-error', 'rc-cb']);
    await post({ type: 'enqueue', call_uuid: 'rc-cb', queue: 'rcb' });
    expect(await post({ type: 'callback', call_uuid: 'rc-cb', queue: 'rcb', number: '+14155550142' })).toMatchObject({
      status: 'completed',
    });
    // Its leg is gone from Plivo, as the confirmation hung it up; rounds come and go.
    fake.setLive(['rc-live', 'rc-held-live', 'rc-during-error']);
    const rounds = await stack.metric('holdq_reconcile_runs_total', { account: 'default', outcome: 'ok' });
    await until(
      async () =>
        (await stack.metric('holdq_reconcile_runs_total', { account: 'default', outcome: 'ok' })) >= rounds + 2,
      10_000,
      'two rounds',
    );
    expect(await state('rc-cb')).toBe('callback');
    const queue = (await (await stack.get('/v1/queues/rcb')).json()) as {
      members: { call_uuid: string; callback: boolean }[];
    };
    expect(queue.members).toEqual([expect.objectContaining({ call_uuid: 'rc-cb', callback: true })]);
  }, 20_000);

  it("when holdq places a call back, then Plivo gets plivo-node's calls.create request: POST …/Call/ with Basic auth and a JSON body", async () => {
    const client = createPlivoClient({ baseUrl: fake.url, authId: 'MAFAKE', authToken: 'secret', timeoutMs: 2000 });
    try {
      const request = {
        from: '+15550100000',
        to: '+14155550100',
        answer_url: 'https://holdq.example/plivo/xml/callback/answer/q?call=c&attempt=1',
        answer_method: 'POST' as const,
        hangup_url: 'https://holdq.example/plivo/events/callback-hangup/q?call=c&attempt=1',
        hangup_method: 'POST' as const,
        ring_timeout: 30,
      };
      const outcome = await client.makeCall(request);
      expect(outcome).toMatchObject({ kind: 'accepted', status: 201, requestUuid: expect.stringMatching(/^fake-/) });
      expect(fake.madeCalls.at(-1)).toEqual({
        authId: 'MAFAKE',
        authorization: `Basic ${Buffer.from('MAFAKE:secret').toString('base64')}`,
        contentType: 'application/json',
        body: request,
      });
    } finally {
      client.close();
    }
  });

  it('when two workers run, then one lists the live calls per interval; when it stops, the other takes over within an interval', async () => {
    const { stream } = captureLogs();
    const second = await startWorker(stack.config, {
      logger: createLogger('warn', stream),
      registry: new Registry(),
      metrics: createMetrics(new Registry(), { defaults: false }),
      opsPort: null,
    });
    try {
      // There is something to check, so each round lists (one request, whichever worker holds the lease).
      const from = Date.now();
      await sleep(6500);
      const lists = fake.liveRequests.filter((t) => t >= from).length;
      expect(lists).toBeGreaterThanOrEqual(2);
      expect(lists).toBeLessThanOrEqual(4);
      // Stop the stack's worker (it may or may not be the holder): listing goes on, every interval.
      await stack.worker!.stop();
      const stopped = Date.now();
      await sleep(6500);
      const after = fake.liveRequests.filter((t) => t >= stopped);
      expect(after.length).toBeGreaterThanOrEqual(2);
      expect(after[0]! - stopped).toBeLessThanOrEqual(2000 + 600);
    } finally {
      await second.stop();
    }
  }, 30_000);
});

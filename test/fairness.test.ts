import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

const DESK_KEY = 'other-secret-0123456789'; // testConfig's second API key, client "other"
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * SPEC §12: when work waits for PLIVO_MAX_RPS it is served by class, then clients in turn, across
 * every worker (the order lives in Redis: BullMQ's priorities and the pacer's line). A real API and
 * worker, a real Redis, a fake Plivo that notes when each transfer arrived.
 */
describe('classes and fairness under the Plivo rate', () => {
  let fake: Awaited<ReturnType<typeof startFakePlivo>>;
  let stack: Stack;
  beforeAll(async () => {
    fake = await startFakePlivo({ latencyMs: [0, 2], failureRate: 0 });
    stack = await startStack({
      env: {
        PLIVO_BASE_URL: fake.url,
        PLIVO_MAX_RPS: '20',
        WORKER_CONCURRENCY: '8',
        API_KEY_CLASSES: 'ops=bulk',
        TRANSFER_URL_ALLOWLIST: 'example.com',
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await fake.stop();
  });

  const arrival = (call: string) => fake.transfers.find((t) => t.callUuid === call)?.startedAt;
  async function postAll(bodies: object[], key?: string) {
    const views: IntentView[] = [];
    for (let i = 0; i < bodies.length; i += 20) {
      const batch = await Promise.all(bodies.slice(i, i + 20).map((b) => stack.post(b, key ? { key } : {})));
      for (const res of batch) {
        expect(res.status).toBe(202);
        views.push((await res.json()) as IntentView);
      }
    }
    return views;
  }

  it("when a client's burst fills the rate, then another client's holds wait a slot or two, and holds overtake the burst's transfers", async () => {
    // 40 transfers, then 50 holds, from one client: five seconds of work at 20 a second.
    const transfers = Array.from({ length: 40 }, (_, i) => ({
      type: 'transfer',
      call_uuid: `bulk-t${i}`,
      legs: 'aleg',
      aleg_url: 'https://example.com/next.xml',
    }));
    const holds = Array.from({ length: 50 }, (_, i) => ({ type: 'hold', call_uuid: `bulk-h${i}`, legs: 'aleg' }));
    const burst = await postAll([...transfers, ...holds]);
    // A desk client's holds, one every 200 ms while the burst drains.
    const posted = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      await sleep(200);
      const call = `desk-${i}`;
      posted.set(call, Date.now());
      expect((await stack.post({ type: 'hold', call_uuid: call, legs: 'aleg' }, { key: DESK_KEY })).status).toBe(202);
    }
    for (const v of burst) await stack.waitForIntent(v.id, undefined, 30_000);
    for (const call of posted.keys()) {
      for (let i = 0; i < 100 && arrival(call) === undefined; i++) await sleep(50);
    }

    // Each desk hold reached Plivo within a few slots (50 ms each) of its post; first in, first out
    // would have kept it behind the whole burst (seconds: its drain, at 20 a second).
    const waits = [...posted].map(([call, at]) => arrival(call)! - at);
    const burstTimes = burst.map((v) => arrival(v.call_uuid!)!);
    const drainMs = Math.max(...burstTimes) - Math.min(...burstTimes);
    expect(drainMs).toBeGreaterThan(3500);
    expect(Math.max(...waits)).toBeLessThan(drainMs / 5);
    // Holds (interactive) were served before the burst's own transfers (bulk) that waited with them,
    // though the transfers were posted first.
    const holdTimes = holds.map((h) => arrival(h.call_uuid)!);
    const transferTimes = transfers.map((t) => arrival(t.call_uuid)!);
    expect(median(holdTimes)).toBeLessThan(median(transferTimes));
    expect(transferTimes.filter((t) => t > Math.max(...holdTimes)).length).toBeGreaterThan(25);
    // The rate held all along.
    expect(fake.transfers.every((t) => t.status === 202)).toBe(true);
  }, 60_000);

  it('when two clients each post a burst of one class, then they are served in turn, not one burst after the other', async () => {
    fake.transfers.length = 0;
    const burst = (who: string) =>
      Array.from({ length: 30 }, (_, i) => ({
        type: 'transfer',
        call_uuid: `${who}-${i}`,
        legs: 'aleg',
        aleg_url: 'https://example.com/next.xml',
      }));
    // The first client's burst is all accepted before the second's.
    const first = await postAll(burst('first'));
    const second = await postAll(burst('second'), DESK_KEY);
    for (const v of [...first, ...second]) await stack.waitForIntent(v.id, undefined, 30_000);
    const order = [...fake.transfers].sort((a, b) => a.startedAt - b.startedAt).map((t) => t.callUuid.split('-')[0]);
    // In turn: half of the first 30 served are the second client's (the few already under way excepted).
    const secondEarly = order.slice(0, 30).filter((who) => who === 'second').length;
    expect(secondEarly).toBeGreaterThanOrEqual(10);
    expect(order.filter((who) => who === 'second')).toHaveLength(30);
  }, 60_000);

  it("when a key's intents are all one class (API_KEY_CLASSES), then the record says so; otherwise the type decides", async () => {
    const ops = await stack.post({ type: 'unhold', call_uuid: 'class-a' }, { key: 'ops-secret-0123456789' });
    const mine = await stack.post({ type: 'unhold', call_uuid: 'class-b' });
    expect(((await ops.json()) as IntentView).class).toBe('bulk');
    const view = (await mine.json()) as IntentView;
    expect(view.class).toBe('urgent');
    expect(((await (await stack.get(`/v1/intents/${view.id}`)).json()) as IntentView).class).toBe('urgent');
  });

  it("when one call's intents are of different classes, then they still take effect in the order they were accepted", async () => {
    fake.transfers.length = 0;
    // A backlog first, so the later, more urgent intents of the call have every chance to overtake.
    const backlog = await postAll(
      Array.from({ length: 30 }, (_, i) => ({ type: 'hold', call_uuid: `load-${i}`, legs: 'aleg' })),
    );
    const call = 'mixed-call';
    const steps = [
      { type: 'transfer', call_uuid: call, legs: 'aleg', aleg_url: 'https://example.com/ivr.xml' },
      { type: 'hold', call_uuid: call, legs: 'aleg' },
      { type: 'unhold', call_uuid: call },
    ];
    const views: IntentView[] = [];
    for (const body of steps) views.push((await (await stack.post(body)).json()) as IntentView);
    const done = [];
    for (const v of [...backlog, ...views]) done.push(await stack.waitForIntent(v.id, undefined, 30_000));
    expect(done.slice(-3).map((v) => v.status)).toEqual(['completed', 'completed', 'completed']);
    const seen = fake.transfers
      .filter((t) => t.callUuid === call)
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((t) => t.body.aleg_url);
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBe('https://example.com/ivr.xml');
    expect(seen[1]).toMatch(/\/plivo\/xml\/hold\?/);
    expect(seen[2]).not.toMatch(/\/plivo\/xml\/hold\?/);
    expect(fake.overlaps).toEqual([]);
  }, 60_000);

  it("when an agent's hold waits for a bulk transfer of its own call, then that transfer is served at the hold's class, not behind the burst", async () => {
    fake.transfers.length = 0;
    const call = 'rerouted-call';
    const reroute = {
      type: 'transfer',
      call_uuid: call,
      legs: 'aleg',
      aleg_url: 'https://example.com/reroute.xml',
    };
    const others = Array.from({ length: 60 }, (_, i) => ({ ...reroute, call_uuid: `campaign-${i}` }));
    // The bulk client's re-route of the call sits behind a campaign of its own class.
    const burst = await postAll([...others.slice(0, 45), reroute, ...others.slice(45)]);
    await sleep(150);
    const posted = Date.now();
    const hold = (await (
      await stack.post({ type: 'hold', call_uuid: call, legs: 'aleg' }, { key: DESK_KEY })
    ).json()) as IntentView;
    const held = await stack.waitForIntent(hold.id, undefined, 30_000);
    const heldAt = Date.now();
    for (const v of burst) await stack.waitForIntent(v.id, undefined, 30_000);
    const times = fake.transfers.map((t) => t.startedAt);
    const drainMs = Math.max(...times) - Math.min(...times);
    expect(held.status).toBe('completed');
    // The call's own order held: the re-route reached Plivo before the hold.
    const mine = fake.transfers.filter((t) => t.callUuid === call).sort((a, b) => a.startedAt - b.startedAt);
    expect(mine.map((t) => t.body.aleg_url)).toEqual([
      'https://example.com/reroute.xml',
      expect.stringMatching(/\/plivo\/xml\/hold\?/),
    ]);
    // Both were served in a small part of the campaign's drain (three seconds at 20 a second).
    expect(drainMs).toBeGreaterThan(2500);
    expect(heldAt - posted).toBeLessThan(drainMs / 4);
  }, 60_000);
});

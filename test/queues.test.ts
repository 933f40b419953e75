import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

const QUEUES = {
  support: { max_size: 3, announcement: 'Thanks for waiting' },
  vip: { max_wait_seconds: 1, overflow: 'spill' },
  spill: {},
};

interface QueueView {
  name: string;
  waiting: number;
  members: { call_uuid: string; position: number; wait_seconds: number; priority: number }[];
}

describe('named queues', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { QUEUES: JSON.stringify(QUEUES) } });
  });
  afterAll(() => stack.stop());

  const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
  async function done(body: object): Promise<IntentView> {
    const res = await stack.post(body);
    expect(res.status).toBe(202);
    return stack.waitForIntent(((await res.json()) as IntentView).id);
  }
  const queueView = async (name: string) => (await (await stack.get(`/v1/queues/${name}`)).json()) as QueueView;

  it('when callers are enqueued, then they wait in priority then arrival order, with positions', async () => {
    const [a, b, c] = [uid('a'), uid('b'), uid('c')];
    await done({ type: 'enqueue', call_uuid: a, queue: 'support' });
    await done({ type: 'enqueue', call_uuid: b, queue: 'support', priority: 5 });
    await done({ type: 'enqueue', call_uuid: c, queue: 'support' });
    const q = await queueView('support');
    expect(q.members.map((m) => [m.call_uuid, m.position, m.priority])).toEqual([
      [b, 1, 5],
      [a, 2, 0],
      [c, 3, 0],
    ]);
    const call = await (await stack.get(`/v1/calls/${a}`)).json();
    expect(call).toMatchObject({ call_uuid: a, state: 'queued', queue: 'support', position: 2, transfer_count: 1 });
    const list = (await (await stack.get('/v1/queues')).json()) as {
      items: { name: string; waiting: number; oldest_wait_seconds: number }[];
    };
    expect(list.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'support', waiting: 3 }),
        expect.objectContaining({ name: 'spill', waiting: 0 }),
      ]),
    );

    // The waiting room tells each caller its place and loops back to itself.
    const room = await (await stack.plivo(`/plivo/xml/queue/support?call=${a}`, { form: { CallUUID: a } })).text();
    expect(room).toContain('<Speak>Thanks for waiting</Speak>');
    expect(room).toContain('You are number 2 in line.');
    expect(room).toContain(`<Redirect method="POST">${stack.apiUrl}/plivo/xml/queue/support?call=${a}</Redirect>`);

    // A full queue is refused at accept time.
    const full = await stack.post({ type: 'enqueue', call_uuid: uid('d'), queue: 'support' });
    expect(full.status).toBe(409);
    expect(await full.json()).toMatchObject({ status: 409, errors: [{ field: 'queue' }] });

    // The metrics see the queue.
    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toMatch(/holdq_queue_callers\{queue="support",account="default"\} 3/);
    expect(metrics).toMatch(/holdq_queue_oldest_wait_seconds\{queue="support",account="default"\} [0-9.]+/);
  });

  it('when an agent dequeues, then the first caller and the agent meet in one bridge, and ended callers are skipped as abandoned', async () => {
    const before = await queueView('support');
    const [first, second, third] = before.members.map((m) => m.call_uuid);
    stack.sim.endCall(second!); // hangs up while waiting, and no hangup callback came
    const agent1 = uid('agent');
    const d1 = await done({ type: 'dequeue', queue: 'support', agent_call_uuid: agent1 });
    expect(d1).toMatchObject({ status: 'completed', call_uuid: first });
    const bridge = `${stack.apiUrl}/plivo/xml/bridge/holdq-${first}`;
    expect(d1.transfers.map((t) => [t.call_uuid, t.aleg_url])).toEqual([
      [first, bridge],
      [agent1, bridge],
    ]);
    expect(await (await stack.get(`/v1/calls/${first}`)).json()).toMatchObject({ state: 'bridged', queue: null });

    const agent2 = uid('agent');
    const d2 = await done({ type: 'dequeue', queue: 'support', agent_call_uuid: agent2 });
    expect(d2).toMatchObject({ status: 'completed', call_uuid: third });
    expect(d2.transfers.map((t) => [t.call_uuid, t.status_code])).toEqual([
      [second, 404],
      [third, 202],
      [agent2, 202],
    ]);
    expect((await queueView('support')).waiting).toBe(0);
    const d3 = await done({ type: 'dequeue', queue: 'support', agent_call_uuid: uid('agent') });
    expect(d3).toMatchObject({ status: 'failed', error: { code: 'queue_empty' } });

    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toMatch(/holdq_queue_wait_seconds_count\{queue="support",outcome="bridged",account="default"\} 2/);
    expect(metrics).toMatch(
      /holdq_queue_wait_seconds_count\{queue="support",outcome="abandoned",account="default"\} 1/,
    );
  });

  it('when many agents dequeue from one queue at once, then no caller is taken twice', async () => {
    const callers = Array.from({ length: 8 }, () => uid('race'));
    for (const c of callers) await done({ type: 'enqueue', call_uuid: c, queue: 'race' });
    const results = await Promise.all(
      callers.map(() => done({ type: 'dequeue', queue: 'race', agent_call_uuid: uid('agent') })),
    );
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(new Set(results.map((r) => r.call_uuid))).toEqual(new Set(callers));
    expect((await queueView('race')).waiting).toBe(0);
  });

  it('when an agent asks for a specific caller, then that caller is taken, wherever it is in line', async () => {
    const [x, y] = [uid('x'), uid('y')];
    await done({ type: 'enqueue', call_uuid: x, queue: 'pick' });
    await done({ type: 'enqueue', call_uuid: y, queue: 'pick' });
    const d = await done({ type: 'dequeue', queue: 'pick', agent_call_uuid: uid('agent'), call_uuid: y });
    expect(d).toMatchObject({ status: 'completed', call_uuid: y });
    expect((await queueView('pick')).members.map((m) => m.call_uuid)).toEqual([x]);
  });

  it('when a caller waits past max_wait_seconds, then it moves to the overflow queue', async () => {
    const caller = uid('vip');
    await done({ type: 'enqueue', call_uuid: caller, queue: 'vip' });
    const deadline = Date.now() + 10_000;
    let state: { queue?: string } = {};
    while (Date.now() < deadline && state.queue !== 'spill') {
      state = (await (await stack.get(`/v1/calls/${caller}`)).json()) as { queue?: string };
      if (state.queue !== 'spill') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toMatchObject({ state: 'queued', queue: 'spill' });
    expect((await queueView('vip')).waiting).toBe(0);
    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toMatch(/holdq_queue_wait_seconds_count\{queue="vip",outcome="overflow",account="default"\} 1/);
  });

  it('when Plivo reports a hangup, then the caller leaves its queue as abandoned and the call is ended', async () => {
    const caller = uid('gone');
    await done({ type: 'enqueue', call_uuid: caller, queue: 'hangups' });
    const res = await stack.plivo('/plivo/events/hangup', {
      form: { CallUUID: caller, CallStatus: 'completed', HangupCause: 'NORMAL_CLEARING' },
    });
    expect(res.status).toBe(204);
    expect((await queueView('hangups')).waiting).toBe(0);
    expect(await (await stack.get(`/v1/calls/${caller}`)).json()).toMatchObject({ state: 'ended', queue: null });
    expect((await stack.plivo('/plivo/events/hangup', { form: { CallUUID: caller }, sign: false })).status).toBe(403);
  });

  it('when calls go on and off hold, then holdq_calls_on_hold and the hold durations follow', async () => {
    const call = uid('held');
    await done({ type: 'hold', call_uuid: call });
    expect(await (await stack.get(`/v1/calls/${call}`)).json()).toMatchObject({ state: 'on_hold', held_legs: 'aleg' });
    expect(await (await stack.get('/metrics', { key: null })).text()).toMatch(
      /holdq_calls_on_hold\{account="default"\} 1/,
    );
    await done({ type: 'unhold', call_uuid: call });
    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toMatch(/holdq_calls_on_hold\{account="default"\} 0/);
    expect(metrics).toMatch(/holdq_hold_duration_seconds_count 1/);
  });

  it('when a call or queue is unknown, then the state endpoints answer 404', async () => {
    expect((await stack.get('/v1/calls/never-seen')).status).toBe(404);
    expect((await stack.get('/v1/queues/never-used')).status).toBe(404);
    expect((await stack.get('/v1/queues/bad%20name')).status).toBe(404);
  });
});

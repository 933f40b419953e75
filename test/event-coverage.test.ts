import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { openStream, type SseEvent, type SseStream } from './helpers/sse.js';
import { ADMIN_KEY, redisUrl, startStack, until, type IntentView, type Stack } from './helpers/stack.js';

/**
 * What event-stream.test.ts leaves unread: intent.superseded, call.bridged and queue.left with
 * reason overflow, each read from GET /v1/events and checked field by field as SPEC §8 names them;
 * the one Redis reader an API process shares between its streams; and §9's defaults (a queue's
 * service level threshold, and the STATS_WINDOW_SECONDS window outcomes fall out of).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** STATS_WINDOW_SECONDS of this file's stack: short, so an outcome leaves the window within a test. */
const WINDOW_S = 3;

/** Stream ids as the numbers they order by. */
const idOrder = (a: string, b: string) => {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
};

/** Ids that only go up, none repeated, and each event's time its id's (SPEC §8). */
function expectWellOrdered(events: readonly SseEvent[]) {
  const ids = events.map((e) => e.id!);
  expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);
  for (let i = 1; i < ids.length; i++) expect(idOrder(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
  for (const e of events) expect(Date.parse(String(e.json.at))).toBe(Number(e.id!.split('-')[0]));
}

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

interface QueueView {
  name: string;
  waiting: number;
  service_level: {
    threshold_seconds: number;
    answered_within: number;
    answered: number;
    ratio: number | null;
    target: number;
  };
  abandoned_ratio: number | null;
}

describe('GET /v1/events: the events no other test reads', () => {
  let stack: Stack;
  const streams: SseStream[] = [];
  const open = async (query = '') => {
    const s = await openStream(`${stack.apiUrl}/v1/events${query}`);
    streams.push(s);
    expect(s.status).toBe(200);
    return s;
  };
  const accept = async (body: object) => {
    const res = await stack.post(body);
    expect(res.status).toBe(202);
    return (await res.json()) as IntentView;
  };
  const queueView = async (name: string) => {
    const res = await stack.get(`/v1/queues/${name}`);
    expect(res.status).toBe(200);
    return (await res.json()) as QueueView;
  };

  beforeAll(async () => {
    stack = await startStack({
      env: {
        STATS_WINDOW_SECONDS: String(WINDOW_S),
        QUEUES: JSON.stringify({ 'cov-ovf': { max_wait_seconds: 1, overflow: 'cov-spill' } }),
      },
    });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await stack.stop();
  });

  it('when a failed intent is retried after a newer intent for its call took effect, then the stream says intent.superseded, with its intent and type and no error', async () => {
    const s = await open('?call_uuid=cov-sup');
    stack.sim.injectFault({ status: 400, callUuid: 'cov-sup' });
    const hold = await accept({ type: 'hold', call_uuid: 'cov-sup' });
    expect(await stack.waitForIntent(hold.id)).toMatchObject({ status: 'failed' });
    const enqueue = await accept({ type: 'enqueue', call_uuid: 'cov-sup', queue: 'cov-sup-q' });
    expect(await stack.waitForIntent(enqueue.id)).toMatchObject({ status: 'completed' });
    const retry = await fetch(`${stack.apiUrl}/v1/intents/${hold.id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(retry.status).toBe(202);
    expect(await stack.waitForIntent(hold.id)).toMatchObject({ status: 'superseded' });

    const [superseded] = await s.waitFor((e) => e.event === 'intent.superseded');
    expect(superseded!.json).toEqual({
      type: 'intent.superseded',
      at: ISO,
      intent_id: hold.id,
      intent_type: 'hold',
      call_uuid: 'cov-sup',
    });
    // It comes after everything the newer intent did, and is the hold's last word.
    await sleep(200);
    const seen = s.events.map((e) => [e.event, e.json.intent_id ?? null]);
    expect(seen.slice(0, 2)).toEqual([
      ['intent.accepted', hold.id],
      ['intent.failed', hold.id],
    ]);
    expect(seen).toContainEqual(['intent.completed', enqueue.id]);
    expect(seen.at(-1)).toEqual(['intent.superseded', hold.id]);
    expect(s.events.filter((e) => e.event === 'intent.superseded')).toHaveLength(1);
    expectWellOrdered(s.events);
  });

  it('when a dequeue bridges a caller to an agent, then call.bridged is told for both calls, and the queue.left of the caller', async () => {
    await stack.waitForIntent((await accept({ type: 'enqueue', call_uuid: 'cov-b1', queue: 'cov-bridge' })).id);
    const caller = await open('?call_uuid=cov-b1');
    const agent = await open('?call_uuid=cov-agent');
    const dq = await accept({ type: 'dequeue', queue: 'cov-bridge', agent_call_uuid: 'cov-agent' });
    expect(await stack.waitForIntent(dq.id)).toMatchObject({ status: 'completed', call_uuid: 'cov-b1' });

    // SPEC §8: call.* events carry the call, and the intent that made the change; a bridge has no legs.
    const [agentBridged] = await agent.waitFor((e) => e.event === 'call.bridged');
    expect(agentBridged!.json).toEqual({ type: 'call.bridged', at: ISO, call_uuid: 'cov-agent', intent_id: dq.id });
    const [callerBridged] = await caller.waitFor((e) => e.event === 'call.bridged');
    expect(callerBridged!.json).toMatchObject({ type: 'call.bridged', at: ISO, call_uuid: 'cov-b1' });
    expect(callerBridged!.json).not.toHaveProperty('legs');
    // The caller left its queue as bridged.
    const [left] = await caller.waitFor((e) => e.event === 'queue.left');
    expect(left!.json).toEqual({
      type: 'queue.left',
      at: ISO,
      call_uuid: 'cov-b1',
      queue: 'cov-bridge',
      reason: 'bridged',
      wait_seconds: expect.any(Number),
    });
    expect(left!.json.wait_seconds as number).toBeGreaterThanOrEqual(0);
    // Each call is told once that it is bridged.
    await sleep(200);
    expect(caller.events.filter((e) => e.event === 'call.bridged')).toHaveLength(1);
    expect(agent.events.filter((e) => e.event === 'call.bridged')).toHaveLength(1);
    expectWellOrdered(caller.events);
    expectWellOrdered(agent.events);
    expect(await (await stack.get('/v1/calls/cov-b1')).json()).toMatchObject({ state: 'bridged' });
    expect(await (await stack.get('/v1/calls/cov-agent')).json()).toMatchObject({ state: 'bridged' });
  });

  // KNOWN GAP, not fixed here: the dequeue moves its caller with CallStore.apply
  // (src/worker/run-dequeue.ts:85), which takes no intent id (src/infra/call-state.ts:135), so the
  // caller's call.bridged has no intent_id, though the dequeue made the change (SPEC §8's data, and
  // /openapi.json: "intent_id (when an intent made the change)"). `failing` until src passes it on;
  // then jest reports this test, and `.failing` goes.
  it("when a dequeue bridges a caller, then the caller's call.bridged names the dequeue", async () => {
    await stack.waitForIntent((await accept({ type: 'enqueue', call_uuid: 'cov-b2', queue: 'cov-bridge' })).id);
    const caller = await open('?call_uuid=cov-b2&types=call.bridged');
    const dq = await accept({ type: 'dequeue', queue: 'cov-bridge', agent_call_uuid: 'cov-agent2' });
    expect(await stack.waitForIntent(dq.id)).toMatchObject({ status: 'completed', call_uuid: 'cov-b2' });
    const [bridged] = await caller.waitFor(() => true);
    expect(bridged!.json).toEqual({ type: 'call.bridged', at: ISO, call_uuid: 'cov-b2', intent_id: dq.id });
  });

  it("when a caller waits past its queue's max_wait_seconds, then queue.left says overflow with the wait, and it joins the overflow queue", async () => {
    const s = await open('?call_uuid=cov-o1');
    const enqueue = await accept({ type: 'enqueue', call_uuid: 'cov-o1', queue: 'cov-ovf' });
    expect(await stack.waitForIntent(enqueue.id)).toMatchObject({ status: 'completed' });
    const [left] = await s.waitFor((e) => e.event === 'queue.left', 1, 15_000);
    expect(left!.json).toEqual({
      type: 'queue.left',
      at: ISO,
      call_uuid: 'cov-o1',
      queue: 'cov-ovf',
      reason: 'overflow',
      wait_seconds: expect.any(Number),
    });
    // It waited its max wait (1 s), and not much more on an idle stack.
    expect(left!.json.wait_seconds as number).toBeGreaterThanOrEqual(1);
    expect(left!.json.wait_seconds as number).toBeLessThan(10);
    const [joined] = await s.waitFor((e) => e.event === 'queue.joined' && e.json.queue === 'cov-spill');
    expect(joined!.json).toMatchObject({ call_uuid: 'cov-o1', queue: 'cov-spill', position: 1 });
    // The move is an intent of holdq's own, accepted with the caller's leaving.
    const moved = s.events.find((e) => e.event === 'intent.accepted' && e.json.intent_id !== enqueue.id);
    expect(moved!.json).toMatchObject({ intent_type: 'enqueue', client: 'holdq', queue: 'cov-spill' });
    expect(idOrder(left!.id!, joined!.id!)).toBeLessThan(0);
    expect(s.events.filter((e) => e.event === 'queue.left')).toHaveLength(1);
    expectWellOrdered(s.events);
    expect((await queueView('cov-ovf')).waiting).toBe(0);
  });

  it('when a queue is not configured, then its service level counts answers within 20 s', async () => {
    await stack.waitForIntent((await accept({ type: 'enqueue', call_uuid: 'cov-d1', queue: 'cov-plain' })).id);
    expect((await queueView('cov-plain')).service_level).toEqual({
      threshold_seconds: 20,
      answered_within: 0,
      answered: 0,
      ratio: null,
      target: 0.8,
    });
  });

  it('when outcomes get older than STATS_WINDOW_SECONDS, then the service level and the abandoned ratio no longer count them', async () => {
    const s = await open('?queue=cov-win&types=queue.left');
    // One caller answered, then (later) one who hangs up.
    await stack.waitForIntent((await accept({ type: 'enqueue', call_uuid: 'cov-w1', queue: 'cov-win' })).id);
    await stack.waitForIntent((await accept({ type: 'enqueue', call_uuid: 'cov-w2', queue: 'cov-win' })).id);
    const dq = await accept({ type: 'dequeue', queue: 'cov-win', agent_call_uuid: 'cov-w-agent' });
    expect(await stack.waitForIntent(dq.id)).toMatchObject({ status: 'completed', call_uuid: 'cov-w1' });
    const [bridged] = await s.waitFor((e) => e.json.reason === 'bridged');
    await sleep((WINDOW_S * 1000) / 2);
    const hangup = await stack.plivo('/plivo/events/hangup', { form: { CallUUID: 'cov-w2', HangupCause: 'NORMAL' } });
    expect(hangup.status).toBe(204);
    const [abandoned] = await s.waitFor((e) => e.json.reason === 'abandoned');
    const bridgedAt = Date.parse(String(bridged!.json.at));
    const abandonedAt = Date.parse(String(abandoned!.json.at));

    // Both in the window.
    expect(await queueView('cov-win')).toMatchObject({
      service_level: { threshold_seconds: 20, answered: 1, answered_within: 1, ratio: 1, target: 0.8 },
      abandoned_ratio: 0.5,
    });
    expect(Date.now()).toBeLessThan(bridgedAt + WINDOW_S * 1000);

    // The answer leaves the window first: no service level, and every caller who left abandoned.
    const later = await until(
      async () => {
        const v = await queueView('cov-win');
        return v.service_level.answered === 0 && v;
      },
      'the answered caller to leave the window',
      WINDOW_S * 1000 + 5000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(bridgedAt + WINDOW_S * 1000);
    // (The abandonment came half a window after the answer: it is still in the window.)
    expect(later).toMatchObject({
      service_level: { threshold_seconds: 20, answered: 0, answered_within: 0, ratio: null, target: 0.8 },
      abandoned_ratio: 1,
    });

    // Then the abandonment: nothing left to count.
    const empty = await until(
      async () => {
        const v = await queueView('cov-win');
        return v.abandoned_ratio === null && v;
      },
      'the abandoned caller to leave the window',
      WINDOW_S * 1000 + 5000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(abandonedAt + WINDOW_S * 1000);
    expect(empty.service_level).toEqual({
      threshold_seconds: 20,
      answered: 0,
      answered_within: 0,
      ratio: null,
      target: 0.8,
    });
  });
});

describe('GET /v1/events: one Redis reader per API process', () => {
  let stack: Stack;
  let redis: Redis;
  const streams: SseStream[] = [];
  beforeAll(async () => {
    stack = await startStack();
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    redis.disconnect();
    await stack.stop();
  });

  /** Redis's clients now: the connected count, and how many are blocked in XREAD (the hub's reader). */
  const clients = async () => {
    const info = await redis.info('clients');
    const connected = Number(/connected_clients:(\d+)/.exec(info)![1]);
    const list = ((await redis.client('LIST')) as string).split('\n').filter(Boolean);
    const readers = list.filter((l) => / cmd=xread /.test(l)).length;
    return { connected, readers };
  };
  const openMany = async (n: number, call: string) => {
    const opened = await Promise.all(
      Array.from({ length: n }, () => openStream(`${stack.apiUrl}/v1/events?call_uuid=${call}`)),
    );
    streams.push(...opened);
    for (const s of opened) expect(s.status).toBe(200);
    return opened;
  };
  /** A hold on `call`, and each stream told of it: the streams are live, read by the hub. */
  const everyStreamSees = async (opened: SseStream[], call: string) => {
    const res = await stack.post({ type: 'hold', call_uuid: call });
    await stack.waitForIntent(((await res.json()) as IntentView).id);
    for (const s of opened) await s.waitFor((e) => e.event === 'intent.completed');
  };

  it('when 30 streams are open on one API, then Redis has as many clients as with one: one blocking reader serves them all', async () => {
    const one = await openMany(1, 'cov-one');
    await everyStreamSees(one, 'cov-one');
    expect(await stack.metric('holdq_event_streams')).toBe(1);
    const withOne = await clients();
    expect(withOne.readers).toBe(1);

    const thirty = await openMany(29, 'cov-one');
    await everyStreamSees([...one, ...thirty], 'cov-one');
    expect(await stack.metric('holdq_event_streams')).toBe(30);
    const withThirty = await clients();
    expect(withThirty).toEqual(withOne);

    for (const s of [...one, ...thirty]) s.close();
    await until(async () => (await stack.metric('holdq_event_streams')) === 0, 'the streams to close');
    await Promise.all([...one, ...thirty].map((s) => s.ended));
    // Closing the streams opens or closes no connection either.
    expect((await clients()).connected).toBe(withOne.connected);
  });
});

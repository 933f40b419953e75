import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { openStream, type SseEvent, type SseStream } from './helpers/sse.js';
import { READ_KEY, redisUrl, startStack, type IntentView, type Stack } from './helpers/stack.js';

const OTHER_KEY = 'other-secret-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stream ids as the numbers they order by. */
const idOrder = (a: string, b: string) => {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
};

describe('GET /v1/events', () => {
  let stack: Stack;
  const streams: SseStream[] = [];
  const open = async (query = '', opts: Parameters<typeof openStream>[1] = {}) => {
    const s = await openStream(`${stack.apiUrl}/v1/events${query}`, opts);
    streams.push(s);
    return s;
  };
  const accept = async (body: object, key?: string) => {
    const res = await stack.post(body, key ? { key } : {});
    expect(res.status).toBe(202);
    return (await res.json()) as IntentView;
  };

  beforeAll(async () => {
    stack = await startStack({
      env: {
        EVENTS_KEEPALIVE_SECONDS: '1',
        QUEUES: '{"sales":{"service_level_seconds":5,"service_level_target":0.9,"announce_wait":true}}',
      },
    });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await stack.stop();
  });

  it('when a call is put on hold and taken off, then the stream tells each step, with ids that only go up', async () => {
    const s = await open('?call_uuid=ev-hold');
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const hold = await accept({ type: 'hold', call_uuid: 'ev-hold', legs: 'aleg' });
    await stack.waitForIntent(hold.id);
    const unhold = await accept({ type: 'unhold', call_uuid: 'ev-hold' });
    await stack.waitForIntent(unhold.id);
    await s.waitFor((e) => e.event === 'intent.completed', 2);
    expect(s.events.map((e) => e.event)).toEqual([
      'intent.accepted',
      'call.held',
      'intent.completed',
      'intent.accepted',
      'call.unheld',
      'intent.completed',
    ]);
    expect(s.events[0]!.json).toEqual({
      type: 'intent.accepted',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      intent_id: hold.id,
      intent_type: 'hold',
      call_uuid: 'ev-hold',
      client: 'test',
    });
    expect(s.events[1]!.json).toMatchObject({
      type: 'call.held',
      call_uuid: 'ev-hold',
      legs: 'aleg',
      intent_id: hold.id,
    });
    expect(s.events[4]!.json).toMatchObject({ type: 'call.unheld', legs: 'aleg' });
    const ids = s.events.map((e) => e.id!);
    expect([...ids].sort(idOrder)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // Each event's time is its id's.
    for (const e of s.events) expect(Date.parse(String(e.json.at))).toBe(Number(e.id!.split('-')[0]));
  });

  it('when callers join a queue and one is bridged, then joined, position and left events say where each stands', async () => {
    const s = await open('?queue=sales');
    const callers = ['ev-q1', 'ev-q2', 'ev-q3'];
    for (const c of callers)
      await stack.waitForIntent((await accept({ type: 'enqueue', call_uuid: c, queue: 'sales' })).id);
    const joined = await s.waitFor((e) => e.event === 'queue.joined', 3);
    expect(joined.map((e) => [e.json.call_uuid, e.json.position])).toEqual([
      ['ev-q1', 1],
      ['ev-q2', 2],
      ['ev-q3', 3],
    ]);
    // No caller was ever taken from this queue: too little history for an estimate.
    expect(joined.map((e) => e.json.estimated_wait_seconds)).toEqual([null, null, null]);
    const dq = await accept({ type: 'dequeue', queue: 'sales', agent_call_uuid: 'ev-agent' });
    expect((await stack.waitForIntent(dq.id)).status).toBe('completed');
    const [left] = await s.waitFor((e) => e.event === 'queue.left');
    expect(left!.json).toMatchObject({ call_uuid: 'ev-q1', queue: 'sales', reason: 'bridged' });
    expect(typeof left!.json.wait_seconds).toBe('number');
    const moved = await s.waitFor((e) => e.event === 'queue.position', 2);
    expect(moved.map((e) => [e.json.call_uuid, e.json.position])).toEqual([
      ['ev-q2', 1],
      ['ev-q3', 2],
    ]);
    // One take while callers waited: now there is an estimate.
    for (const e of moved) expect(e.json.estimated_wait_seconds).toEqual(expect.any(Number));
    // The dequeue intent names the queue, so its events pass the queue filter too.
    await s.waitFor((e) => e.event === 'intent.completed' && e.json.intent_id === dq.id);

    // A caller who hangs up while waiting leaves as abandoned; the one behind moves up.
    const hangup = await stack.plivo('/plivo/events/hangup', { form: { CallUUID: 'ev-q2', HangupCause: 'NORMAL' } });
    expect(hangup.status).toBe(204);
    const [gone] = await s.waitFor((e) => e.event === 'queue.left' && e.json.call_uuid === 'ev-q2');
    expect(gone!.json.reason).toBe('abandoned');
    await s.waitFor((e) => e.event === 'queue.position' && e.json.call_uuid === 'ev-q3' && e.json.position === 1);
    // The queue filter passes events that name the queue; the caller's call.ended does not.
    expect(s.events.filter((e) => e.event.startsWith('call.'))).toEqual([]);

    // The queue's view agrees: its service level counts the answered caller, abandonment the other.
    const view = (await (await stack.get('/v1/queues/sales')).json()) as Record<string, unknown>;
    expect(view).toMatchObject({
      name: 'sales',
      waiting: 1,
      service_level: { threshold_seconds: 5, answered: 1, answered_within: 1, ratio: 1, target: 0.9 },
      abandoned_ratio: 0.5,
      estimated_wait_seconds: expect.any(Number),
      members: [
        expect.objectContaining({ call_uuid: 'ev-q3', position: 1, estimated_wait_seconds: expect.any(Number) }),
      ],
    });
    // The gauges say the same (the estimate for a joiner; the service level's ratio).
    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toMatch(/holdq_queue_estimated_wait_seconds\{queue="sales",account="default"\} \d+/);
    expect(metrics).toMatch(/holdq_queue_service_level_ratio\{queue="sales",account="default"\} 1\n/);
    // Beside it, the line the alert draws: the queue's own target.
    expect(metrics).toMatch(/holdq_queue_service_level_target\{queue="sales",account="default"\} 0\.9\n/);
    // With announce_wait, the waiting room tells the caller its estimate.
    const room = await stack.plivo('/plivo/xml/queue/sales?call=ev-q3', { form: { CallUUID: 'ev-q3' } });
    expect(room.status).toBe(200);
    expect(await room.text()).toMatch(
      /<Speak>Your estimated wait is (less than a minute|about \d+ minutes?)\.<\/Speak>/,
    );
    const list = (await (await stack.get('/v1/queues')).json()) as { items: Record<string, unknown>[] };
    expect(list.items.find((q) => q.name === 'sales')).toMatchObject({ estimated_wait_seconds: expect.any(Number) });
  });

  it('when a failed intent finishes, then intent.failed carries its error', async () => {
    const s = await open('?types=intent.failed&call_uuid=ev-agent2');
    const dq = await accept({ type: 'dequeue', queue: 'nobody-here', agent_call_uuid: 'ev-agent2' });
    await stack.waitForIntent(dq.id);
    const [failed] = await s.waitFor(() => true);
    expect(failed!.json).toMatchObject({
      type: 'intent.failed',
      intent_id: dq.id,
      intent_type: 'dequeue',
      queue: 'nobody-here',
      error: { code: 'queue_empty' },
    });
    // The types filter let nothing else through.
    await sleep(200);
    expect(s.events.map((e) => e.event)).toEqual(['intent.failed']);
  });

  it('when a client comes back with Last-Event-ID, then it gets every event it missed, once, then the live ones', async () => {
    const first = await open('?call_uuid=ev-resume');
    await stack.waitForIntent((await accept({ type: 'hold', call_uuid: 'ev-resume' })).id);
    const seen = await first.waitFor((e) => e.event === 'intent.completed');
    first.close();
    const lastId = seen[0]!.id!;
    // Missed while away: an unhold and a hold.
    await stack.waitForIntent((await accept({ type: 'unhold', call_uuid: 'ev-resume' })).id);
    await stack.waitForIntent((await accept({ type: 'hold', call_uuid: 'ev-resume' })).id);
    const back = await open('?call_uuid=ev-resume', { lastEventId: lastId });
    await back.waitFor((e) => e.event === 'intent.completed', 2);
    // Then live: one more.
    await stack.waitForIntent((await accept({ type: 'unhold', call_uuid: 'ev-resume' })).id);
    await back.waitFor((e) => e.event === 'intent.completed', 3);
    await sleep(200);
    expect(back.events.map((e) => e.event)).toEqual([
      'intent.accepted',
      'call.unheld',
      'intent.completed',
      'intent.accepted',
      'call.held',
      'intent.completed',
      'intent.accepted',
      'call.unheld',
      'intent.completed',
    ]);
    expect(back.events.every((e) => idOrder(e.id!, lastId) > 0)).toBe(true);
    expect(new Set(back.events.map((e) => e.id)).size).toBe(back.events.length);
    // The query parameter does the same for clients that cannot set the header; the header wins over it.
    const byQuery = await open(`?call_uuid=ev-resume&last_event_id=${lastId}`);
    await byQuery.waitFor((e) => e.event === 'intent.completed', 3);
    expect(byQuery.events.map((e) => e.id)).toEqual(back.events.map((e) => e.id));
    const both = await open(`?call_uuid=ev-resume&last_event_id=1-0`, { lastEventId: back.events.at(-1)!.id! });
    await sleep(300);
    expect(both.events).toEqual([]);
  });

  it('when the stream is quiet, then a comment line keeps it open', async () => {
    const s = await open('?call_uuid=nothing-happens');
    await until(() => s.comments.includes('keep-alive'), 3000);
    expect(s.events).toEqual([]);
  });

  it('when a read key follows the stream, then it may; without a key, or with a bad query or id, it may not', async () => {
    const viewer = await open('?call_uuid=ev-viewer', { key: READ_KEY });
    expect(viewer.status).toBe(200);
    await stack.waitForIntent((await accept({ type: 'hold', call_uuid: 'ev-viewer' })).id);
    await viewer.waitFor((e) => e.event === 'call.held');

    expect((await open('', { key: null })).status).toBe(401);
    expect((await open('', { key: 'not-a-key-at-all-000' })).status).toBe(401);
    const problem = async (s: SseStream) => {
      expect(s.status).toBe(422);
      expect(s.headers.get('content-type')).toMatch(/problem\+json/);
    };
    const badTypes = await fetch(`${stack.apiUrl}/v1/events?types=call.held,call.teleported`, {
      headers: { authorization: 'Bearer test-secret-0123456789' },
    });
    expect(badTypes.status).toBe(422);
    expect(((await badTypes.json()) as { errors: { field: string }[] }).errors[0]!.field).toMatch(/^types/);
    await problem(await open('?last_event_id=yesterday'));
    const badHeader = await fetch(`${stack.apiUrl}/v1/events`, {
      headers: { authorization: 'Bearer test-secret-0123456789', 'last-event-id': '12; DROP' },
    });
    expect(badHeader.status).toBe(422);
    expect(await badHeader.json()).toMatchObject({ errors: [{ field: 'Last-Event-ID' }] });
    await problem(await open('?queue=../etc'));
    await problem(await open('?colour=blue'));
  });

  it("when another client of the same account acts, then its events are seen; the stream carries the other client's intents too", async () => {
    // Keys of one account see one account's events (accounts.test.ts checks that another account's stay apart).
    const s = await open('?call_uuid=ev-shared');
    await stack.waitForIntent((await accept({ type: 'hold', call_uuid: 'ev-shared' }, OTHER_KEY)).id);
    const [accepted] = await s.waitFor((e) => e.event === 'intent.accepted');
    expect(accepted!.json.client).toBe('other');
  });
});

describe('GET /v1/events when events are trimmed', () => {
  let stack: Stack;
  let redis: Redis;
  const closeLater: SseStream[] = [];
  beforeAll(async () => {
    stack = await startStack({ env: { EVENTS_RETENTION: '100', EVENTS_MAX_STREAMS_PER_KEY: '2' } });
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    for (const s of closeLater) s.close();
    redis.disconnect();
    await stack.stop();
  });

  it('when a client comes back with an id older than what is kept, then it gets one reset, then the live events', async () => {
    const first = await openStream(`${stack.apiUrl}/v1/events?call_uuid=trim-0`);
    closeLater.push(first);
    await stack.waitForIntent(
      ((await (await stack.post({ type: 'hold', call_uuid: 'trim-0' })).json()) as IntentView).id,
    );
    const [old] = await first.waitFor((e) => e.event === 'intent.completed');
    first.close();
    // Far more than 100 events since (each hold makes three).
    const views = await Promise.all(
      Array.from({ length: 150 }, async (_, i) =>
        (await stack.post({ type: 'hold', call_uuid: `trim-${i + 1}` })).json(),
      ),
    );
    for (const v of views) await stack.waitForIntent((v as IntentView).id);
    const stream = `${stack.config.QUEUE_PREFIX}:events`;
    expect(await redis.xlen(stream)).toBeLessThan(300);
    const back = await openStream(`${stack.apiUrl}/v1/events`, { lastEventId: old!.id! });
    closeLater.push(back);
    const [reset] = await back.waitFor((e: SseEvent) => e.event === 'reset');
    expect(reset!.json).toMatchObject({ type: 'reset', after: old!.id });
    await stack.waitForIntent(
      ((await (await stack.post({ type: 'hold', call_uuid: 'trim-live' })).json()) as IntentView).id,
    );
    await back.waitFor((e) => e.event === 'call.held' && e.json.call_uuid === 'trim-live');
    expect(back.events[0]!.event).toBe('reset');
    // The reset has an id (where the stream was): from it, a client resumes with no second reset.
    expect(reset!.id).toMatch(/^\d+-\d+$/);
    back.close();
    const again = await openStream(`${stack.apiUrl}/v1/events?call_uuid=trim-live`, { lastEventId: reset!.id! });
    closeLater.push(again);
    const [held] = await again.waitFor((e) => e.event === 'call.held');
    expect(again.events.filter((e) => e.event === 'reset')).toEqual([]);
    expect(held!.json.call_uuid).toBe('trim-live');
    again.close();
  });
  it('when Redis lost the stream and it began again, then a client with an id from before gets a reset, not a silent gap', async () => {
    const first = await openStream(`${stack.apiUrl}/v1/events?call_uuid=lost-0`);
    closeLater.push(first);
    await stack.waitForIntent(
      ((await (await stack.post({ type: 'hold', call_uuid: 'lost-0' })).json()) as IntentView).id,
    );
    const [old] = await first.waitFor((e) => e.event === 'intent.completed');
    first.close();
    // What a Redis that kept nothing looks like afterwards: the stream begins again, with new ids.
    const stream = `${stack.config.QUEUE_PREFIX}:events`;
    await redis.del(stream);
    await stack.waitForIntent(
      ((await (await stack.post({ type: 'hold', call_uuid: 'lost-1' })).json()) as IntentView).id,
    );
    const info = (await redis.xinfo('STREAM', stream)) as unknown[];
    expect(Number(info[info.indexOf('entries-added') + 1])).toBe(await redis.xlen(stream));
    const back = await openStream(`${stack.apiUrl}/v1/events`, { lastEventId: old!.id! });
    closeLater.push(back);
    const [reset] = await back.waitFor((e: SseEvent) => e.event === 'reset');
    expect(back.events[0]!.event).toBe('reset');
    expect(reset!.json).toMatchObject({ type: 'reset', after: old!.id });
    back.close();
    // "0-0" still asks for everything kept, with no reset, while nothing was trimmed.
    const all = await openStream(`${stack.apiUrl}/v1/events?call_uuid=lost-1`, { lastEventId: '0-0' });
    closeLater.push(all);
    await all.waitFor((e) => e.event === 'intent.completed');
    expect(all.events.filter((e) => e.event === 'reset')).toEqual([]);
    all.close();
  });
  it('when one key opens more streams than EVENTS_MAX_STREAMS_PER_KEY, then the next is 429 with Retry-After; other keys are not held back', async () => {
    const a = await openStream(`${stack.apiUrl}/v1/events`);
    const b = await openStream(`${stack.apiUrl}/v1/events`);
    closeLater.push(a, b);
    const c = await fetch(`${stack.apiUrl}/v1/events`, { headers: { authorization: 'Bearer test-secret-0123456789' } });
    expect(c.status).toBe(429);
    expect(c.headers.get('retry-after')).toBe('5');
    expect(((await c.json()) as { detail: string }).detail).toMatch(/2 event streams open/);
    const other = await openStream(`${stack.apiUrl}/v1/events`, { key: READ_KEY });
    closeLater.push(other);
    expect(other.status).toBe(200);
    // Once one of the key's streams closes, it may open another.
    a.close();
    let again: SseStream | null = null;
    for (let i = 0; i < 40 && again?.status !== 200; i++) {
      again?.close();
      await sleep(50);
      again = await openStream(`${stack.apiUrl}/v1/events`);
    }
    closeLater.push(again!);
    expect(again!.status).toBe(200);
  });
});

async function until(check: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

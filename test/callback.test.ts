import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { openStream, type SseStream } from './helpers/sse.js';
import { startStack, until, type IntentView, type Stack } from './helpers/stack.js';

/**
 * Call me back, keeping my place (SPEC §10), end to end: the real API and worker on this file's
 * Redis, and the Plivo simulator, which answers Make Call, rings, then fetches the answer URL (or
 * calls the hangup URL as busy, no-answer or failed) with signed requests, as Plivo does.
 */
describe('call me back', () => {
  let stack: Stack;
  let events: SseStream;
  const QUEUES = JSON.stringify({ cbq: { callback: true }, plain: {} });

  const accepted = async (body: object) => {
    const res = await stack.post(body);
    expect(res.status).toBe(202);
    return ((await res.json()) as IntentView).id;
  };
  const run = async (body: object) => stack.waitForIntent(await accepted(body));
  const queue = async (name: string) =>
    (await (await stack.get(`/v1/queues/${name}`)).json()) as {
      waiting: number;
      members: { call_uuid: string; position: number; callback: boolean; priority: number }[];
    };
  const call = async (uuid: string) =>
    (await (await stack.get(`/v1/calls/${uuid}`)).json()) as { state: string; queue: string | null };
  /** Plivo's fetch of the waiting room, as the simulator makes it for a call it moved there. */
  const waitingRoom = async (name: string, uuid: string) => {
    await stack.sim.waitForXmlFetch(uuid);
    return stack.sim.getCall(uuid)!.current!.xml!;
  };
  /** The caller presses `digit` in the waiting room's offer (<GetDigits>'s action, as Plivo posts it). */
  const press = async (name: string, uuid: string, digit: string) => {
    const res = await stack.plivo(`/plivo/xml/callback/offer/${name}?call=${uuid}`, {
      form: { CallUUID: uuid, Digits: digit, From: '+15550001111' },
    });
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    stack = await startStack({
      env: {
        QUEUES,
        CALLBACK_CALLER_ID: '+15550100000',
        CALLBACK_RETRY_SECONDS: '1',
        CALLBACK_ATTEMPTS: '2',
        CALLBACK_RING_SECONDS: '1',
        RECONCILE_INTERVAL_SECONDS: '0',
      },
    });
    events = await openStream(
      `${stack.apiUrl}/v1/events?types=callback.requested,callback.dialing,callback.connected,callback.failed,queue.left`,
    );
  });
  afterAll(async () => {
    events.close();
    await stack.stop();
  });
  beforeEach(() => {
    stack.sim.setRingMs(200);
  });

  it('when a queue offers call-backs, then its waiting room offers one through <GetDigits>, signed like every /plivo/ route', async () => {
    await run({ type: 'enqueue', call_uuid: 'cb-offer', queue: 'cbq' });
    const xml = await waitingRoom('cbq', 'cb-offer');
    expect(xml).toMatch(
      new RegExp(
        `<GetDigits action="${stack.apiUrl}/plivo/xml/callback/offer/cbq\\?call=cb-offer" method="POST" numDigits="1" validDigits="1"[^>]*><Speak>[^<]*press 1\\.</Speak><Play`,
      ),
    );
    // A queue that does not offer them has no <GetDigits>.
    await run({ type: 'enqueue', call_uuid: 'cb-plain', queue: 'plain' });
    expect(await waitingRoom('plain', 'cb-plain')).not.toContain('GetDigits');
    // The offer's action is a /plivo/ route: unsigned, it is refused.
    const forged = await stack.plivo('/plivo/xml/callback/offer/cbq?call=cb-offer', {
      form: { Digits: '1' },
      sign: false,
    });
    expect(forged.status).toBe(403);
    expect((await queue('cbq')).members.find((m) => m.call_uuid === 'cb-offer')?.callback).toBe(false);
  });

  it('when the caller presses 1, then it keeps its place and priority as a callback member, hears its number masked, and its hangup does not remove it', async () => {
    await run({ type: 'enqueue', call_uuid: 'cb-first', queue: 'cbq', priority: 5 });
    await run({ type: 'enqueue', call_uuid: 'cb-second', queue: 'cbq' });
    await waitingRoom('cbq', 'cb-first');
    const before = (await queue('cbq')).members.map((m) => m.call_uuid);
    // Another key first: nothing happens on any other digit.
    expect(await press('cbq', 'cb-first', '2')).toContain('<Redirect method="POST">');
    const xml = await press('cbq', 'cb-first', '1');
    expect(xml).toContain('the number ending in 1 1 1 1');
    expect(xml).toContain('<Hangup/>');
    expect(xml).not.toContain('+1555');
    const after = await queue('cbq');
    expect(after.members.map((m) => m.call_uuid)).toEqual(before);
    expect(after.members.find((m) => m.call_uuid === 'cb-first')).toMatchObject({ callback: true, priority: 5 });
    const [requested] = await events.waitFor(
      (e) => e.event === 'callback.requested' && e.json.call_uuid === 'cb-first',
    );
    expect(requested!.json).toMatchObject({ queue: 'cbq', attempt: 0, number: '***1111' });
    // The caller's leg hangs up, as the confirmation tells Plivo to: it stays, a callback member.
    expect(
      (await stack.plivo('/plivo/events/hangup', { form: { CallUUID: 'cb-first', HangupCause: 'NORMAL_CLEARING' } }))
        .status,
    ).toBe(204);
    expect((await call('cb-first')).state).toBe('callback');
    expect((await queue('cbq')).members.map((m) => m.call_uuid)).toEqual(before);
    // No number is ever logged in full.
    expect(stack.logs.join('\n')).not.toContain('+15550001111');
    await stack.plivo('/plivo/events/hangup', { form: { CallUUID: 'cb-second' } });
    await stack.plivo('/plivo/events/hangup', { form: { CallUUID: 'cb-first' } });
  });

  it("when the simulator's caller presses 1 (POST /_sim/calls/{uuid}/digits), then its <GetDigits> action is posted, signed, and the confirmation hangs the line up", async () => {
    await run({ type: 'enqueue', call_uuid: 'cb-keys', queue: 'cbq' });
    await waitingRoom('cbq', 'cb-keys');
    const res = await fetch(`${stack.sim.url}/_sim/calls/cb-keys/digits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ digits: '1' }),
    });
    expect(res.status).toBe(200);
    const after = (await res.json()) as { status: string; current: { xml: string; fetched_status: number } };
    expect(after).toMatchObject({ status: 'ended', current: { fetched_status: 200 } });
    expect(after.current.xml).toContain('ending in 1 1 1 1');
    expect((await queue('cbq')).members.find((m) => m.call_uuid === 'cb-keys')?.callback).toBe(true);
    // A call that runs no <GetDigits> cannot press keys.
    stack.sim.createCall('cb-no-keys');
    const refused = await fetch(`${stack.sim.url}/_sim/calls/cb-no-keys/digits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ digits: '1' }),
    });
    expect(refused.status).toBe(409);
  });

  it('when a callback intent names a bad number or a caller who does not wait, then 422 names the field, or the intent fails not_queued', async () => {
    for (const number of ['5551234', '+0123456789', '+1 415 555 0100', '+1234567890123456', 12345]) {
      const res = await stack.post({ type: 'callback', call_uuid: 'cb-x', queue: 'cbq', number });
      expect(res.status).toBe(422);
      const problem = (await res.json()) as { errors: { field: string }[] };
      expect(problem.errors.map((e) => e.field)).toContain('number');
    }
    const failed = await run({ type: 'callback', call_uuid: 'cb-nowhere', queue: 'cbq', number: '+14155550100' });
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'not_queued' }, number: '***0100' });
  });

  it('when a dequeue reaches a callback member, then the agent goes to the connecting room, Make Call rings the number, and the answer bridges both in one room', async () => {
    await run({ type: 'enqueue', call_uuid: 'cb-dial', queue: 'cbdial' });
    const asked = await run({ type: 'callback', call_uuid: 'cb-dial', queue: 'cbdial', number: '+14155550123' });
    expect(asked).toMatchObject({ status: 'completed', number: '***0123' });
    // The caller heard its number, masked, and was hung up by the document it was moved to.
    const confirmed = await stack.sim.waitForXmlFetch('cb-dial');
    expect(confirmed.current!.xml).toContain('ending in 0 1 2 3');
    const dials = stack.sim.dials().length;
    const done = await run({ type: 'dequeue', queue: 'cbdial', agent_call_uuid: 'agent-dial' });
    expect(done).toMatchObject({ status: 'completed', call_uuid: 'cb-dial' });
    const [dial] = stack.sim.dials().slice(dials);
    expect(dial).toMatchObject({
      to: '+14155550123',
      status: 'answered',
      answer_url: `${stack.apiUrl}/plivo/xml/callback/answer/cbdial?call=cb-dial&attempt=1`,
      hangup_url: `${stack.apiUrl}/plivo/events/callback-hangup/cbdial?call=cb-dial&attempt=1`,
      ring_timeout: 1,
    });
    // Agent first: its transfer to the connecting room was sent before the call was placed.
    const agentMove = done.transfers.find((t) => t.call_uuid === 'agent-dial')!;
    expect(agentMove.aleg_url).toBe(`${stack.apiUrl}/plivo/xml/connecting/holdq-cb-dial`);
    expect(Date.parse(agentMove.at)).toBeLessThanOrEqual(dial!.at);
    // The customer's answer joins the same room.
    const customer = stack.sim.getCall(dial!.call_uuid!)!;
    expect(customer.current!.xml).toContain('>holdq-cb-dial</Conference>');
    expect((await call('cb-dial')).state).toBe('bridged');
    expect((await queue('cbdial')).members.some((m) => m.call_uuid === 'cb-dial')).toBe(false);
    const seen = await events.waitFor(
      (e) =>
        e.json.call_uuid === 'cb-dial' && ['callback.dialing', 'callback.connected', 'queue.left'].includes(e.event),
      3,
    );
    expect(seen.map((e) => e.event)).toEqual(['callback.dialing', 'callback.connected', 'queue.left']);
    expect(seen[0]!.json).toMatchObject({ attempt: 1, number: '***0123' });
    expect(seen[2]!.json).toMatchObject({ reason: 'bridged' });
    // A late second answer to the same attempt is told, not bridged.
    const late = await stack.plivo('/plivo/xml/callback/answer/cbdial?call=cb-dial&attempt=1', {
      form: { CallUUID: 'late-leg' },
    });
    expect(await late.text()).toContain('<Hangup/>');
  });

  it('when the customer does not answer, then the same dequeue goes on to the next caller at once; the member keeps its place, is passed over until its retry, and leaves with callback.failed after CALLBACK_ATTEMPTS', async () => {
    await run({ type: 'enqueue', call_uuid: 'cb-busy', queue: 'cbbusy' });
    await run({ type: 'enqueue', call_uuid: 'cb-next-1', queue: 'cbbusy' });
    await run({ type: 'enqueue', call_uuid: 'cb-next-2', queue: 'cbbusy' });
    await run({ type: 'callback', call_uuid: 'cb-busy', queue: 'cbbusy', number: '+14155550199' });
    stack.sim.injectDialFault({ outcome: 'busy' });
    const first = await run({ type: 'dequeue', queue: 'cbbusy', agent_call_uuid: 'agent-busy' });
    // The agent got the next caller, in the same dequeue.
    expect(first).toMatchObject({ status: 'completed', call_uuid: 'cb-next-1' });
    expect(first.transfers.map((t) => t.call_uuid)).toEqual(['agent-busy', 'cb-next-1', 'agent-busy']);
    let q = await queue('cbbusy');
    expect(q.members[0]).toMatchObject({ call_uuid: 'cb-busy', position: 1, callback: true });
    // Within its retry time it is passed over.
    const second = await run({ type: 'dequeue', queue: 'cbbusy', agent_call_uuid: 'agent-busy-2' });
    expect(second).toMatchObject({ status: 'completed', call_uuid: 'cb-next-2' });
    // After it, it is called again; unanswered again (the last of 2 attempts), it leaves.
    await new Promise((r) => setTimeout(r, 1100));
    stack.sim.injectDialFault({ outcome: 'no-answer' });
    const third = await run({ type: 'dequeue', queue: 'cbbusy', agent_call_uuid: 'agent-busy-3' });
    expect(third).toMatchObject({ status: 'failed', error: { code: 'queue_empty' } });
    // Nobody else waits: the agent, left in the connecting room, is moved out of it.
    expect(third.transfers.at(-1)).toMatchObject({
      call_uuid: 'agent-busy-3',
      aleg_url: `${stack.apiUrl}/plivo/xml/idle?notice=1`,
    });
    q = await queue('cbbusy');
    expect(q.members.some((m) => m.call_uuid === 'cb-busy')).toBe(false);
    const [failed] = await events.waitFor((e) => e.event === 'callback.failed' && e.json.call_uuid === 'cb-busy');
    expect(failed!.json).toMatchObject({ attempt: 2, number: '***0199', reason: 'no-answer' });
    const [left] = await events.waitFor((e) => e.event === 'queue.left' && e.json.call_uuid === 'cb-busy');
    expect(left!.json).toMatchObject({ reason: 'callback' });
    expect(await stack.metric('holdq_queue_callbacks_total', { account: 'default', outcome: 'failed' })).toBe(1);
  }, 30_000);

  it('when Plivo never calls back about the attempt, then the dequeue stops waiting after the ring time and goes on', async () => {
    await run({ type: 'enqueue', call_uuid: 'cb-lost', queue: 'cblost' });
    await run({ type: 'enqueue', call_uuid: 'cb-after-lost', queue: 'cblost' });
    await run({ type: 'callback', call_uuid: 'cb-lost', queue: 'cblost', number: '+14155550111' });
    stack.sim.injectDialFault({ outcome: 'lost' });
    const started = Date.now();
    const done = await run({ type: 'dequeue', queue: 'cblost', agent_call_uuid: 'agent-lost' });
    expect(done).toMatchObject({ status: 'completed', call_uuid: 'cb-after-lost' });
    // One ring time (1 s) and the grace for Plivo's word (5 s), no more.
    expect(Date.now() - started).toBeLessThan(12_000);
    expect((await queue('cblost')).members[0]).toMatchObject({ call_uuid: 'cb-lost', callback: true });
    await until(async () => (await call('cb-lost')).state === 'callback', 'cb-lost is a callback member again', 1000);
  }, 30_000);
});

describe('call-backs under the account rate', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { CALLBACK_CALLER_ID: '+15550100000', PLIVO_MAX_CPS: '2', RECONCILE_INTERVAL_SECONDS: '0' },
    });
  });
  afterAll(() => stack.stop());

  it('when many dequeues reach callback members at once, then Make Call is paced under PLIVO_MAX_CPS: at most 2 calls placed in any second', async () => {
    const n = 6;
    const post = async (body: object) => {
      const res = await stack.post(body);
      expect(res.status).toBe(202);
      return stack.waitForIntent(((await res.json()) as IntentView).id, undefined, 20_000);
    };
    for (let i = 0; i < n; i++) {
      await post({ type: 'enqueue', call_uuid: `cps-${i}`, queue: `cps-q${i}` });
      await post({ type: 'callback', call_uuid: `cps-${i}`, queue: `cps-q${i}`, number: `+1415555010${i}` });
    }
    const done = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        post({ type: 'dequeue', queue: `cps-q${i}`, agent_call_uuid: `cps-agent-${i}` }),
      ),
    );
    expect(done.map((d) => d.status)).toEqual(Array(n).fill('completed'));
    const at = stack.sim
      .dials()
      .map((d) => d.at)
      .sort((a, b) => a - b);
    expect(at).toHaveLength(n);
    // Any three consecutive calls span more than a second (a few ms of clock slack between processes' timers).
    for (let i = 2; i < at.length; i++) expect(at[i]! - at[i - 2]!).toBeGreaterThanOrEqual(990);
  }, 30_000);
});

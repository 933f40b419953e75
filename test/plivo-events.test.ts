/**
 * Plivo's event callbacks (src/api/event-routes.ts) with PLIVO_AUTH_TOKEN set, as startStack sets
 * it: a signed hangup ends the call and takes it out of its queue; a request signed with another
 * token, or changed after it was signed, is refused and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

interface CallView {
  call_uuid: string;
  state: string | null;
  queue: string | null;
  position: number | null;
}
interface QueueView {
  name: string;
  waiting: number;
  members: { call_uuid: string; position: number }[];
}

describe('a hangup that comes while an intent for the call is on its way', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ simulator: { fetchXml: false } });
  });
  afterAll(() => stack.stop());

  const view = async (uuid: string) => (await (await stack.get(`/v1/calls/${uuid}`)).json()) as CallView;
  /** The queue's members; none when holdq does not know the queue (no caller ever joined it). */
  const members = async (name: string) => {
    const res = await stack.get(`/v1/queues/${name}`);
    return res.status === 404 ? [] : ((await res.json()) as QueueView).members.map((m) => m.call_uuid);
  };
  /** Posts the intent, and hangs the call up while Plivo (800 ms slow) has not yet answered its transfer. */
  async function hangUpDuring(body: { type: 'enqueue'; call_uuid: string; queue: string }) {
    stack.sim.setLatency(800);
    try {
      const { id } = (await (await stack.post(body)).json()) as IntentView;
      await stack.waitForIntent(id, (r) => r.status === 'running');
      const res = await stack.plivo('/plivo/events/hangup', {
        form: { CallUUID: body.call_uuid, HangupCause: 'NORMAL_CLEARING', CallStatus: 'completed' },
      });
      expect(res.status).toBe(204);
      return await stack.waitForIntent(id);
    } finally {
      stack.sim.setLatency(0);
    }
  }

  it("when it is the call's first intent (an enqueue), then the call stays ended and no ghost caller is left in the queue", async () => {
    const name = `race-${randomUUID().slice(0, 8)}`;
    const uuid = `race-${randomUUID()}`;
    await hangUpDuring({ type: 'enqueue', call_uuid: uuid, queue: name });
    expect(await view(uuid)).toMatchObject({ state: 'ended', queue: null, position: null });
    expect(await members(name)).toEqual([]);
  });

  it('when a held call is being enqueued, then it stays ended and out of the queue', async () => {
    const name = `race-${randomUUID().slice(0, 8)}`;
    const uuid = `race-${randomUUID()}`;
    const hold = (await (await stack.post({ type: 'hold', call_uuid: uuid })).json()) as IntentView;
    expect(await stack.waitForIntent(hold.id)).toMatchObject({ status: 'completed' });
    await hangUpDuring({ type: 'enqueue', call_uuid: uuid, queue: name });
    expect(await view(uuid)).toMatchObject({ state: 'ended', queue: null });
    expect(await members(name)).toEqual([]);
  });
});

describe('Plivo events, signed', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  const call = async (uuid: string) => (await (await stack.get(`/v1/calls/${uuid}`)).json()) as CallView;
  const queue = async (name: string) => (await (await stack.get(`/v1/queues/${name}`)).json()) as QueueView;
  /** holdq_calls_on_hold, as a scrape reads it (the only test of this file that holds a call). */
  const onHold = async () =>
    Number(
      /^holdq_calls_on_hold\{account="default"\} (\d+)$/m.exec(
        await (await stack.get('/metrics', { key: null })).text(),
      )?.[1],
    );

  /** Two callers waiting in a queue of their own, first and second in line. */
  async function twoWaiting() {
    const name = `ev-${randomUUID().slice(0, 8)}`;
    const callers = [`ev-${randomUUID()}`, `ev-${randomUUID()}`];
    for (const uuid of callers) {
      const res = await stack.post({ type: 'enqueue', call_uuid: uuid, queue: name });
      expect(res.status).toBe(202);
      expect(await stack.waitForIntent(((await res.json()) as IntentView).id)).toMatchObject({ status: 'completed' });
    }
    expect((await queue(name)).members.map((m) => m.call_uuid)).toEqual(callers);
    return { name, first: callers[0]!, second: callers[1]! };
  }

  it('when a correctly signed hangup arrives for a queued caller, then its call is ended and it leaves its queue', async () => {
    const { name, first, second } = await twoWaiting();
    const res = await stack.plivo('/plivo/events/hangup', {
      form: { CallUUID: first, HangupCause: 'NORMAL_CLEARING', CallStatus: 'completed' },
    });
    expect(res.status).toBe(204);
    expect(await call(first)).toMatchObject({ state: 'ended', queue: null, position: null });
    expect(await queue(name)).toMatchObject({ waiting: 1, members: [{ call_uuid: second, position: 1 }] });
    expect(await call(second)).toMatchObject({ state: 'queued', queue: name, position: 1 });
    const metrics = await (await stack.get('/metrics', { key: null })).text();
    expect(metrics).toContain(
      `holdq_queue_wait_seconds_count{queue="${name}",outcome="abandoned",account="default"} 1`,
    );
  });

  it('when a hangup for a held call is signed, then the call is ended and no longer counted on hold', async () => {
    const uuid = `ev-${randomUUID()}`;
    const res = await stack.post({ type: 'hold', call_uuid: uuid });
    expect(await stack.waitForIntent(((await res.json()) as IntentView).id)).toMatchObject({ status: 'completed' });
    expect(await call(uuid)).toMatchObject({ state: 'on_hold' });
    expect(await onHold()).toBe(1);
    expect((await stack.plivo('/plivo/events/hangup', { form: { CallUUID: uuid } })).status).toBe(204);
    expect(await call(uuid)).toMatchObject({ state: 'ended' });
    expect(await onHold()).toBe(0);
  });

  it('when a hangup is signed with another auth token, then 403 and the caller stays in line', async () => {
    const { name, first, second } = await twoWaiting();
    const res = await stack.plivo('/plivo/events/hangup', {
      form: { CallUUID: first },
      token: 'not-the-account-token',
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ status: 403, errors: [{ field: 'X-Plivo-Signature-V3' }] });
    expect(await call(first)).toMatchObject({ state: 'queued', queue: name, position: 1 });
    expect((await queue(name)).members.map((m) => m.call_uuid)).toEqual([first, second]);
  });

  it('when a signed hangup has a form field changed after signing, then 403 and nothing changes', async () => {
    const { name, first, second } = await twoWaiting();
    // Signed for the second caller, sent for the first.
    const res = await stack.plivo('/plivo/events/hangup', {
      form: { CallUUID: first },
      signedForm: { CallUUID: second },
    });
    expect(res.status).toBe(403);
    expect(await call(first)).toMatchObject({ state: 'queued', position: 1 });
    expect(await call(second)).toMatchObject({ state: 'queued', position: 2 });
    expect((await queue(name)).members.map((m) => m.call_uuid)).toEqual([first, second]);
    // The same request, signed as sent, goes through.
    expect((await stack.plivo('/plivo/events/hangup', { form: { CallUUID: first } })).status).toBe(204);
    expect(await call(first)).toMatchObject({ state: 'ended' });
  });

  it('when the hangup comes as a signed GET (the application set to GET), then the call is ended too', async () => {
    const { name, first } = await twoWaiting();
    const res = await stack.plivo(`/plivo/events/hangup?CallUUID=${first}&HangupCause=NORMAL_CLEARING`, {
      method: 'GET',
    });
    expect(res.status).toBe(204);
    expect(await call(first)).toMatchObject({ state: 'ended', queue: null });
    expect((await queue(name)).members.map((m) => m.call_uuid)).not.toContain(first);
  });

  it('when a conference event arrives signed, then 204; unsigned, then 403', async () => {
    const form = { ConferenceName: 'holdq-x', ConferenceAction: 'enter', CallUUID: `ev-${randomUUID()}` };
    expect((await stack.plivo('/plivo/events/conference', { form })).status).toBe(204);
    const unsigned = await stack.plivo('/plivo/events/conference', { form, sign: false });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await stack.plivo('/plivo/events/conference', { form, token: 'not-the-account-token' })).status).toBe(403);
  });
});

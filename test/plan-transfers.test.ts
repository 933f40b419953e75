import { describe, expect, it } from '@jest/globals';
import { intentInput, type IntentInput } from '../src/domain/intent.js';
import type { CallState } from '../src/domain/call.js';
import { disallowedTransferUrls, planTransfers } from '../src/domain/transfers.js';
import { createXmlLinks } from '../src/domain/xml-links.js';

const links = createXmlLinks('https://holdq.example/');
const ctx = { links, defaultMusicProfile: 'default' };
const intent = (body: object) => intentInput.parse(body) as IntentInput;
const call = (over: Partial<CallState> = {}): CallState => ({
  call_uuid: 'ca-1',
  state: null,
  queue: null,
  since: null,
  transfer_count: 0,
  last_intent_id: null,
  held_legs: null,
  bleg_uuid: null,
  applied_seq: 0,
  ...over,
});

describe('planTransfers: intent → Plivo transfer requests', () => {
  it('when holding the A leg, then one transfer sends it to the hold music', () => {
    const plan = planTransfers(intent({ type: 'hold', call_uuid: 'ca-1' }), call(), ctx);
    expect(plan).toEqual({
      ok: true,
      transfers: [
        {
          call_uuid: 'ca-1',
          legs: 'aleg',
          aleg_url: 'https://holdq.example/plivo/xml/hold?call=ca-1&music=default',
          aleg_method: 'POST',
        },
      ],
      effect: { state: 'on_hold', queue: null, held_legs: 'aleg' },
    });
  });

  it('when holding a bridged call with legs=both, then ONE transfer moves A to music and B to the park', () => {
    const plan = planTransfers(intent({ type: 'hold', call_uuid: 'ca-1', legs: 'both', music: 'jazz' }), call(), ctx);
    expect(plan.ok && plan.transfers).toEqual([
      {
        call_uuid: 'ca-1',
        legs: 'both',
        aleg_url: 'https://holdq.example/plivo/xml/hold?call=ca-1&music=jazz',
        aleg_method: 'POST',
        bleg_url: 'https://holdq.example/plivo/xml/park?call=ca-1',
        bleg_method: 'POST',
      },
    ]);
  });

  it('when unholding a call held with legs=both, then each leg moves by its own UUID into one bridge', () => {
    const plan = planTransfers(
      intent({ type: 'unhold', call_uuid: 'ca-1' }),
      call({ state: 'on_hold', held_legs: 'both', bleg_uuid: 'cb-9' }),
      ctx,
    );
    const bridge = 'https://holdq.example/plivo/xml/bridge/holdq-ca-1';
    expect(plan).toEqual({
      ok: true,
      transfers: [
        { call_uuid: 'ca-1', legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' },
        { call_uuid: 'cb-9', legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' },
      ],
      effect: { state: 'bridged', queue: null, held_legs: null },
    });
  });

  it('when the B leg UUID was never learnt, then unhold fails clearly instead of guessing', () => {
    const plan = planTransfers(
      intent({ type: 'unhold', call_uuid: 'ca-1' }),
      call({ state: 'on_hold', held_legs: 'both' }),
      ctx,
    );
    expect(plan).toMatchObject({ ok: false, error: { code: 'bleg_unknown' } });
  });

  it('when the call is not on hold, then unhold fails with not_on_hold', () => {
    expect(planTransfers(intent({ type: 'unhold', call_uuid: 'ca-1' }), call({ state: 'bridged' }), ctx)).toMatchObject(
      {
        ok: false,
        error: { code: 'not_on_hold' },
      },
    );
  });

  it('when enqueueing, then the A leg goes to the queue waiting room and the call becomes queued', () => {
    const plan = planTransfers(intent({ type: 'enqueue', call_uuid: 'ca-1', queue: 'support' }), call(), ctx);
    expect(plan).toEqual({
      ok: true,
      transfers: [
        {
          call_uuid: 'ca-1',
          legs: 'aleg',
          aleg_url: 'https://holdq.example/plivo/xml/queue/support?call=ca-1',
          aleg_method: 'POST',
        },
      ],
      effect: { state: 'queued', queue: 'support', held_legs: null, priority: 0 },
    });
  });

  it('when dequeueing, then the caller moves into its bridge first and the agent follows', () => {
    const plan = planTransfers(intent({ type: 'dequeue', queue: 'support', agent_call_uuid: 'agent-1' }), call(), {
      ...ctx,
      member: 'caller-7',
    });
    const bridge = 'https://holdq.example/plivo/xml/bridge/holdq-caller-7';
    expect(plan).toEqual({
      ok: true,
      transfers: [
        { call_uuid: 'caller-7', legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' },
        { call_uuid: 'agent-1', legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' },
      ],
      effect: { state: 'bridged', queue: null, held_legs: null },
    });
  });

  it('when dequeueing from an empty queue, then it fails with queue_empty', () => {
    const plan = planTransfers(intent({ type: 'dequeue', queue: 'support', agent_call_uuid: 'agent-1' }), call(), {
      ...ctx,
      member: null,
    });
    expect(plan).toMatchObject({ ok: false, error: { code: 'queue_empty' } });
  });

  it('when transferring raw, then the URLs and methods pass through, defaulting to POST', () => {
    const plan = planTransfers(
      intent({
        type: 'transfer',
        call_uuid: 'ca-1',
        legs: 'both',
        aleg_url: 'https://a.example/x',
        bleg_url: 'https://a.example/y',
        bleg_method: 'GET',
      }),
      call(),
      ctx,
    );
    expect(plan.ok && plan.transfers).toEqual([
      {
        call_uuid: 'ca-1',
        legs: 'both',
        aleg_url: 'https://a.example/x',
        aleg_method: 'POST',
        bleg_url: 'https://a.example/y',
        bleg_method: 'GET',
      },
    ]);
  });

  it('when a transfer URL host is not allowed, then the offending fields are named', () => {
    const t = intent({
      type: 'transfer',
      call_uuid: 'c',
      legs: 'both',
      aleg_url: 'https://ok.example/x',
      bleg_url: 'https://evil.example/y',
    });
    expect(disallowedTransferUrls(t, ['ok.example'])).toEqual(['bleg_url']);
    expect(disallowedTransferUrls(t, ['OK.example', 'evil.example'])).toEqual([]);
  });
});

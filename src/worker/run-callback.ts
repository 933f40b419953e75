import type { CallEffect } from '../domain/call.js';
import { maskNumber, type IntentInput, type IntentRecord, type TerminalStatus } from '../domain/intent.js';
import { bridgeRoom, planTransfers } from '../domain/transfers.js';
import type { TakenMember } from '../infra/queue-store.js';
import type { RunContext } from './run-context.js';
import { end, sendTransfers, type RunDeps, type SendResult } from './send-transfers.js';

type Callback = Extract<IntentInput, { type: 'callback' }>;
type Dequeue = Extract<IntentInput, { type: 'dequeue' }>;

/** How long past the ring time a dequeue waits for Plivo to say how a call back went before it counts it unanswered. */
export const ANSWER_GRACE_MS = 5000;
/** How often a dequeue looks at its call back's attempt while it rings. */
const POLL_MS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A record keeps only the last 4 digits of a number once its intent has run (README, "Call me back"). */
function forgetNumber(record: IntentRecord) {
  if (record.request.type === 'callback' && record.request.number)
    record.request = { ...record.request, number: maskNumber(record.request.number) };
}

/**
 * A callback intent (SPEC §10): the waiting caller becomes a callback member (same place, same
 * priority), hears its number, masked, and is hung up. A caller who hung up meanwhile stays a
 * callback member all the same: it asked to be called back.
 */
export async function runCallback(ctx: RunContext<Callback>, deps: RunDeps): Promise<TerminalStatus> {
  const { intent, record, call } = ctx;
  const asked = await deps.callbacks.request(intent.queue, intent.call_uuid, intent.number ?? null, record.id);
  if (asked.kind !== 'ok') {
    forgetNumber(record);
    return end(ctx, deps, 'failed', {
      error:
        asked.kind === 'not_waiting'
          ? { code: 'not_queued', message: `call ${intent.call_uuid} is not waiting in queue ${intent.queue}` }
          : {
              code: 'number_unknown',
              message: 'no number given, and Plivo never reported the caller number (the waiting room had no From)',
            },
    });
  }
  deps.metrics.callMeBack.labels({ account: deps.account.name, outcome: 'requested' }).inc();
  const plan = planTransfers(intent, call, { links: deps.links, defaultMusicProfile: 'default' });
  if (!plan.ok) return end(ctx, deps, 'failed', { error: plan.error });
  const sent = await sendTransfers(ctx, deps, plan.transfers, intent.call_uuid);
  forgetNumber(record);
  if (sent.kind === 'failed') return end(ctx, deps, 'failed', { error: sent.error, effect: plan.effect, from: call });
  return end(ctx, deps, 'completed', { effect: plan.effect, from: call });
}

export type CallBackResult = { kind: 'connected' } | { kind: 'next' } | Extract<SendResult, { kind: 'failed' }>;

/**
 * A dequeue reached a callback member: the agent first, to a connecting room; then Make Call to
 * the member's number, paced under PLIVO_MAX_CPS and the request rate; then the outcome, which
 * the API learns from Plivo (the answer URL bridges the customer into the agent's room; the
 * hangup URL gives the member its place back) or this run gives up waiting for. `next`: the
 * member was not reached (or is no callback any more) and the dequeue goes on down the line,
 * its agent still in the connecting room.
 */
export async function callBack(ctx: RunContext<Dequeue>, deps: RunDeps, member: TakenMember): Promise<CallBackResult> {
  const { intent, record, job } = ctx;
  const { callbacks, config, links, metrics } = deps;
  const room = bridgeRoom(member.call_uuid);
  // A re-run of this dequeue (its worker died while the call rang) finds the attempt settled, or resumes it.
  const before = await callbacks.state(member.call_uuid);
  if (before.intent === record.id && before.state === 'connected') return { kind: 'connected' };
  if (before.intent === record.id && before.state !== 'dialing') return { kind: 'next' };
  // Agent first: it waits in the room the customer will join.
  const moved = await sendTransfers(ctx, deps, [
    { call_uuid: intent.agent_call_uuid, legs: 'aleg', aleg_url: links.connecting(room), aleg_method: 'POST' },
  ]);
  if (moved.kind === 'gone') return { kind: 'next' };
  if (moved.kind === 'failed') return moved;
  // Counted now, not by the finish: this run may go on to other callers, or die while it rings.
  for (const uuid of ctx.counts.splice(0)) await deps.store.saveTransfer(record, uuid);
  const dial = await callbacks.dial(intent.queue, member, record.id, intent.agent_call_uuid);
  if (dial.kind === 'absent') return { kind: 'next' };
  const retry = { retryMs: config.CALLBACK_RETRY_SECONDS * 1000, maxAttempts: config.CALLBACK_ATTEMPTS };
  const log = ctx.log().child({ callUuid: member.call_uuid, attempt: dial.attempt, number: maskNumber(dial.number) });
  const unanswered = async (reason: string) => {
    const outcome = await callbacks.unanswered(intent.queue, member.call_uuid, dial.attempt, reason, retry);
    if (outcome)
      metrics.callMeBack
        .labels({ account: deps.account.name, outcome: outcome === 'retry' ? 'unanswered' : 'failed' })
        .inc();
    log.info({ reason, outcome }, 'call back not answered');
  };
  // An earlier run of this dequeue that marked the attempt may have placed the call before it died:
  // it is not placed twice; the outcome is waited for as if it had been.
  if (dial.fresh) {
    const placed = await deps.sender.call(
      {
        from: config.CALLBACK_CALLER_ID ?? SIMULATED_CALLER_ID,
        to: dial.number,
        answer_url: links.callbackAnswer(intent.queue, member.call_uuid, dial.attempt),
        answer_method: 'POST',
        hangup_url: links.callbackHangup(intent.queue, member.call_uuid, dial.attempt),
        hangup_method: 'POST',
        ring_timeout: config.CALLBACK_RING_SECONDS,
      },
      job.priority,
    );
    if (placed.kind !== 'accepted') {
      await unanswered(placed.kind === 'rejected' ? `rejected_${placed.status}` : placed.reason);
      return { kind: 'next' };
    }
    await callbacks.fired(member.call_uuid);
    metrics.callMeBack.labels({ account: deps.account.name, outcome: 'dialed' }).inc();
    log.info({ requestUuid: placed.requestUuid }, 'calling back');
  }
  const deadline = Date.now() + config.CALLBACK_RING_SECONDS * 1000 + ANSWER_GRACE_MS;
  for (;;) {
    const now = await callbacks.state(member.call_uuid);
    if (now.intent !== record.id || now.attempt !== dial.attempt) return { kind: 'next' };
    if (now.state === 'connected') return { kind: 'connected' };
    if (now.state !== 'dialing') return { kind: 'next' };
    if (Date.now() >= deadline) {
      await unanswered('timeout');
      // The answer may have come just now: what the script settled is the outcome.
      return (await callbacks.state(member.call_uuid)).state === 'connected' ? { kind: 'connected' } : { kind: 'next' };
    }
    await sleep(POLL_MS);
  }
}

/** Where the agent goes when a dequeue that moved it to a connecting room found nobody to connect. */
export async function releaseAgent(ctx: RunContext<Dequeue>, deps: RunDeps): Promise<void> {
  const sent = await sendTransfers(ctx, deps, [
    {
      call_uuid: ctx.intent.agent_call_uuid,
      legs: 'aleg',
      aleg_url: `${deps.links.idle()}?notice=1`,
      aleg_method: 'POST',
    },
  ]).catch((err: unknown) => {
    ctx.log().warn({ err }, 'could not move the agent out of the connecting room');
    return null;
  });
  if (sent && sent.kind !== 'sent') ctx.log().warn({ sent }, 'could not move the agent out of the connecting room');
}

/** Whether the agent waits in a connecting room now: its last accepted transfer of this dequeue sent it there. */
export function agentConnecting(record: IntentRecord, agent: string, links: RunDeps['links']): boolean {
  const last = record.transfers
    .filter((t) => t.call_uuid === agent && t.status_code !== null && t.status_code < 300)
    .at(-1);
  return last?.aleg_url !== undefined && last.aleg_url.startsWith(links.connecting(''));
}

/** The caller id of call-backs on the simulator, when CALLBACK_CALLER_ID is unset. */
export const SIMULATED_CALLER_ID = '+15550100000';

export const BRIDGED: CallEffect = { state: 'bridged', queue: null, held_legs: null };

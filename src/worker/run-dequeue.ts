import type { IntentInput, TerminalStatus } from '../domain/intent.js';
import { planTransfers } from '../domain/transfers.js';
import { secondsSince, type RunContext } from './run-context.js';
import { agentConnecting, BRIDGED, callBack, releaseAgent } from './run-callback.js';
import { end, ENDED, sendTransfers, type RunDeps } from './send-transfers.js';

/** Most callers who hung up one dequeue passes over in one attempt before it gives up. */
export const MAX_GONE_PER_ATTEMPT = 20;

type Dequeue = Extract<IntentInput, { type: 'dequeue' }>;

/**
 * A dequeue's run: it takes the first waiting caller (or the one it names), saves it on the
 * intent so a retry moves the same one, and moves caller then agent into one bridge. A caller who
 * hung up while waiting (Plivo 404 on its transfer) leaves as abandoned and the next one is taken,
 * so the agent is not left without one. A dequeue that cannot finish gives its caller back, in its
 * place, and to the waiting room if it had been moved. A callback member (SPEC §10) is called
 * back, agent first (run-callback.ts); one not reached keeps its place, and the dequeue goes on
 * down the line at once, its agent waiting in the connecting room (released if nobody is left).
 */
export async function runDequeue(ctx: RunContext<Dequeue>, deps: RunDeps): Promise<TerminalStatus> {
  const { intent, record, call } = ctx;
  const release = async () => {
    if (agentConnecting(record, intent.agent_call_uuid, deps.links)) await releaseAgent(ctx, deps);
  };
  const empty = async () => {
    await release();
    return end(ctx, deps, 'failed', {
      error: { code: 'queue_empty', message: `no live caller left in queue ${intent.queue}` },
    });
  };
  for (let tries = 0; tries < MAX_GONE_PER_ATTEMPT; tries++) {
    if (!record.member) {
      record.member = await deps.queues.take(intent.queue, intent.call_uuid);
      await deps.store.save(record);
    }
    const member = record.member;
    if (member?.callback) {
      const called = await callBack(ctx, deps, member);
      if (called.kind === 'connected') {
        deps.metrics.queueWaitFor(deps.account.name, intent.queue, 'bridged').observe(secondsSince(member.enqueued_at));
        return end(ctx, deps, 'completed', { effect: BRIDGED, from: call });
      }
      if (called.kind === 'failed') {
        await deps.sender.returnMember(record, intent, ctx.log, ctx.job.priority);
        return end(ctx, deps, 'failed', {
          error: called.error,
          ...(called.ended === ctx.lock.callUuid ? { effect: ENDED, from: call } : {}),
        });
      }
      // Not reached: it has its place back (the script that settled the attempt put it there).
      record.member = null;
      await deps.store.save(record);
      if (intent.call_uuid) return empty();
      continue;
    }
    const plan = planTransfers(intent, call, {
      links: deps.links,
      defaultMusicProfile: 'default',
      member: member?.call_uuid ?? null,
    });
    if (!plan.ok || !member) {
      await release();
      return end(ctx, deps, 'failed', {
        error: plan.ok ? { code: 'queue_empty', message: `queue ${intent.queue} has no waiting caller` } : plan.error,
      });
    }
    const sent = await sendTransfers(ctx, deps, plan.transfers, member.call_uuid);
    if (sent.kind === 'gone') {
      // The caller hung up while waiting: it leaves as abandoned, and the next one is tried.
      deps.metrics.queueWaitFor(deps.account.name, intent.queue, 'abandoned').observe(secondsSince(member.enqueued_at));
      await deps.calls.apply(member.call_uuid, ENDED, await deps.calls.get(member.call_uuid), { intentId: record.id });
      record.member = null;
      if (intent.call_uuid) return empty();
      continue;
    }
    if (sent.kind === 'failed') {
      await deps.sender.returnMember(record, intent, ctx.log, ctx.job.priority);
      return end(ctx, deps, 'failed', {
        error: sent.error,
        ...(sent.ended === ctx.lock.callUuid ? { effect: ENDED, from: call } : {}),
      });
    }
    deps.metrics.queueWaitFor(deps.account.name, intent.queue, 'bridged').observe(secondsSince(member.enqueued_at));
    // The caller's change is the dequeue's too: its events name it (not its seq: that is the agent's line).
    await deps.calls.apply(member.call_uuid, plan.effect, await deps.calls.get(member.call_uuid), {
      intentId: record.id,
    });
    return end(ctx, deps, 'completed', { effect: plan.effect, from: call });
  }
  return empty();
}

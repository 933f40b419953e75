import type { IntentInput, TerminalStatus } from '../domain/intent.js';
import { resolveQueue } from '../domain/queue-config.js';
import { planTransfers } from '../domain/transfers.js';
import { addOverflowTimer } from '../infra/intent-queue.js';
import type { RunContext } from './run-context.js';
import { runCallback } from './run-callback.js';
import { runDequeue } from './run-dequeue.js';
import { end, ENDED, sendTransfers, type RunDeps } from './send-transfers.js';

/**
 * Runs an intent that passed its call's gate: plans its transfers from what holdq knows of the
 * call (a pure mapping, domain/transfers.ts), sends them, and finishes it with the effect on the
 * call. A dequeue has its own run (run-dequeue.ts): it may go through several callers.
 */
export async function runIntent(ctx: RunContext, deps: RunDeps): Promise<TerminalStatus> {
  const { intent, call, record } = ctx;
  // A newer intent for this call already took effect: this one must not undo it.
  if (call.applied_seq > record.seq) return end(ctx, deps, 'superseded');
  if (intent.type === 'dequeue') return runDequeue(ctx as RunContext<Extract<IntentInput, { type: 'dequeue' }>>, deps);
  if (intent.type === 'callback')
    return runCallback(ctx as RunContext<Extract<IntentInput, { type: 'callback' }>>, deps);
  if (intent.type === 'enqueue' && call.queue !== intent.queue) {
    const settings = resolveQueue(deps.config.QUEUES, intent.queue, deps.config.HOLD_MUSIC_URL);
    if ((await deps.queues.size(intent.queue)) >= settings.max_size) {
      return end(ctx, deps, 'failed', {
        error: { code: 'queue_full', message: `queue ${intent.queue} is full (${settings.max_size})` },
      });
    }
  }
  const plan = planTransfers(intent, call, { links: deps.links, defaultMusicProfile: 'default' });
  if (!plan.ok) return end(ctx, deps, 'failed', { error: plan.error });
  const sent = await sendTransfers(ctx, deps, plan.transfers);
  if (sent.kind !== 'sent') {
    // (`gone` is only for a dequeue's caller; here it cannot come, and would mean the call ended.)
    const error =
      sent.kind === 'failed'
        ? sent.error
        : { code: 'call_not_found' as const, message: `call ${sent.callUuid} has ended` };
    const ended = sent.kind === 'gone' || sent.ended === ctx.lock.callUuid;
    return end(ctx, deps, 'failed', { error, ...(ended ? { effect: ENDED, from: call } : {}) });
  }
  const status = await end(ctx, deps, 'completed', { effect: plan.effect, from: call });
  if (intent.type === 'enqueue') {
    const settings = resolveQueue(deps.config.QUEUES, intent.queue, deps.config.HOLD_MUSIC_URL);
    const maxWait = intent.max_wait_seconds ?? settings.max_wait_seconds;
    const overflow = intent.overflow ?? settings.overflow;
    if (maxWait && overflow)
      await addOverflowTimer(
        deps.jobs,
        { callUuid: intent.call_uuid, queue: intent.queue, intentId: record.id, overflow },
        maxWait * 1000,
      );
  }
  return status;
}

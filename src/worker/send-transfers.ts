import type { Config } from '../config.js';
import type { PlivoAccount } from '../domain/account.js';
import type { CallEffect } from '../domain/call.js';
import type { IntentError, TerminalStatus } from '../domain/intent.js';
import { PLIVO_TRANSFER_CAP, type TransferRequest } from '../domain/transfers.js';
import type { XmlLinks } from '../domain/xml-links.js';
import type { CallStore } from '../infra/call-state.js';
import type { CallbackStore } from '../infra/callback-store.js';
import type { IntentJobs } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { QueueStore } from '../infra/queue-store.js';
import type { Metrics } from '../observability/metrics.js';
import type { Finish, FinishOptions, RunContext } from './run-context.js';
import { RetryableTransferError } from './transfer-backoff.js';
import type { TransferSender } from './transfer-sender.js';

/** A call that has ended (Plivo 404 for it). */
export const ENDED: CallEffect = { state: 'ended', queue: null, held_legs: null };

export interface RunDeps {
  config: Readonly<Config>;
  account: PlivoAccount;
  store: IntentStore;
  calls: CallStore;
  callbacks: CallbackStore;
  queues: QueueStore;
  jobs: IntentJobs;
  links: XmlLinks;
  metrics: Metrics;
  sender: TransferSender;
  finish: Finish;
}

/** What sending an intent's transfers came to: all accepted, or the failure that ends the intent. */
export type SendResult =
  { kind: 'sent' } | { kind: 'failed'; error: IntentError; ended?: string } | { kind: 'gone'; callUuid: string };

/** Finishes the run's intent, with its lock and the transfers it counted. */
export const end = (
  ctx: RunContext,
  deps: RunDeps,
  status: TerminalStatus,
  opts: Omit<FinishOptions, 'lock' | 'counts'> = {},
) => deps.finish(ctx.record, status, ctx.log, { ...opts, counts: ctx.counts, lock: ctx.lock });

/**
 * Sends an intent's transfers in order, each recorded on the intent, skipping those Plivo accepted
 * in an earlier attempt. A 404 for `mayBeGone` (a queued caller who hung up) is `gone`; another
 * 4xx fails the intent; a retryable answer is retried by BullMQ (the thrown error), unless this
 * was the last attempt. Refuses a plan that would pass the call's transfer budget.
 */
export async function sendTransfers(
  ctx: RunContext,
  deps: RunDeps,
  transfers: TransferRequest[],
  mayBeGone?: string,
): Promise<SendResult> {
  const { record, job, call, lock } = ctx;
  const { store, metrics } = deps;
  const accepted = new Set(
    record.transfers
      .filter((t) => t.status_code !== null && t.status_code < 300)
      .map((t) => `${t.call_uuid} ${t.aleg_url}`),
  );
  const remaining = transfers.filter((t) => !accepted.has(`${t.call_uuid} ${t.aleg_url}`));
  const budget = deps.account.transferBudget;
  if (call.transfer_count + remaining.length > budget) {
    const message = `call ${lock.callUuid} has used ${call.transfer_count} of its ${budget} transfers (Plivo hangs up at ${PLIVO_TRANSFER_CAP})`;
    return { kind: 'failed', error: { code: 'transfer_limit', message } };
  }
  for (const [i, transfer] of remaining.entries()) {
    const outcome = await deps.sender.send(transfer, ctx.slot, job.priority);
    ctx.slot = null;
    const at = new Date().toISOString();
    const api_id = outcome.kind === 'accepted' ? outcome.apiId : null;
    record.transfers.push({
      ...transfer,
      status_code: outcome.status,
      api_id,
      at,
      ...(outcome.kind === 'accepted' ? {} : { error: outcome.message }),
    });
    if (outcome.kind === 'accepted') {
      // The last accepted transfer is counted by the finish, in its transaction; earlier ones now.
      if (i === remaining.length - 1) ctx.counts.push(transfer.call_uuid);
      else await store.saveTransfer(record, transfer.call_uuid);
      continue;
    }
    if (outcome.kind === 'rejected') {
      if (outcome.status === 404 && transfer.call_uuid === mayBeGone)
        return { kind: 'gone', callUuid: transfer.call_uuid };
      const gone = outcome.status === 404;
      return {
        kind: 'failed',
        error: { code: gone ? 'call_not_found' : 'upstream_rejected', message: outcome.message },
        ...(gone ? { ended: transfer.call_uuid } : {}),
      };
    }
    if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
      return {
        kind: 'failed',
        error: {
          code: 'upstream_unavailable',
          message: `gave up after ${record.attempts} attempts: ${outcome.message}`,
        },
      };
    }
    metrics.retries.labels({ reason: outcome.reason, account: deps.account.name }).inc();
    await store.save(record);
    ctx
      .log()
      .warn(
        { reason: outcome.reason, status: outcome.status, retryAfterMs: outcome.retryAfterMs },
        'transfer will be retried',
      );
    throw new RetryableTransferError(outcome.message, outcome.reason, outcome.retryAfterMs);
  }
  return { kind: 'sent' };
}

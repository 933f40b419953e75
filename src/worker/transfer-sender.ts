import type { IntentInput, IntentRecord } from '../domain/intent.js';
import type { TransferRequest } from '../domain/transfers.js';
import type { XmlLinks } from '../domain/xml-links.js';
import { priorityClass } from '../domain/intent-class.js';
import type { MakeCallOutcome, MakeCallRequest, PlivoClient, TransferOutcome } from '../infra/plivo-client.js';
import type { Permit, PlivoPacer } from '../infra/plivo-pacer.js';
import type { QueueStore } from '../infra/queue-store.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobLog } from './run-context.js';
import { MAX_BACKOFF_MS } from './transfer-backoff.js';

export interface TransferSenderDeps {
  account: { name: string };
  pacer: PlivoPacer;
  /** Make Call's own pace: the account's calls per second (PLIVO_MAX_CPS), on top of its request rate. */
  callPacer: PlivoPacer;
  plivo: PlivoClient;
  metrics: Metrics;
  queues: QueueStore;
  links: XmlLinks;
}

export type TransferSender = ReturnType<typeof createTransferSender>;

/** Sends Transfer requests to Plivo, each in its rate slot, and gives a dequeue's caller back. */
export function createTransferSender(deps: TransferSenderDeps) {
  const { pacer, plivo, metrics, queues, links } = deps;

  /**
   * `slot`: a rate slot booked already (by the gate); otherwise one is acquired here, at `priority`
   * (the intent job's: lower is served first while requests wait for the rate).
   */
  async function send(
    transfer: TransferRequest,
    slot?: Promise<Permit> | null,
    priority?: number,
  ): Promise<TransferOutcome> {
    const permit = await (slot ?? pacer.acquire(priority));
    const account = deps.account.name;
    metrics.plivoRateWait
      .labels({ class: priorityClass(priority ?? 0)?.cls ?? 'unclassed', account })
      .observe(permit.waitedMs / 1000);
    const outcome = await plivo.transfer(transfer);
    // An answer ends the exchange: Plivo has had the request. Without one (a timeout, a broken
    // connection) it may still be on its way, so it keeps its place a while longer.
    if (outcome.status === null) permit.abandon();
    else permit.release();
    metrics.plivoRequests.labels({ status: outcome.statusLabel, account }).inc();
    metrics.plivoDuration.labels({ account }).observe(outcome.durationMs / 1000);
    if (outcome.kind === 'retryable' && outcome.reason === 'http_429' && outcome.retryAfterMs) {
      await pacer.penalize(Math.min(outcome.retryAfterMs, MAX_BACKOFF_MS));
    }
    return outcome;
  }

  /** Places a call (Make Call) under the account's calls per second and its request rate. */
  async function call(req: MakeCallRequest, priority?: number): Promise<MakeCallOutcome> {
    const perSecond = await deps.callPacer.acquire(priority);
    const permit = await pacer.acquire(priority);
    const account = deps.account.name;
    const outcome = await plivo.makeCall(req);
    for (const p of [permit, perSecond]) {
      if (outcome.status === null) p.abandon();
      else p.release();
    }
    metrics.plivoRequests.labels({ status: outcome.statusLabel, account }).inc();
    metrics.plivoDuration.labels({ account }).observe(outcome.durationMs / 1000);
    if (outcome.kind === 'retryable' && outcome.reason === 'http_429' && outcome.retryAfterMs) {
      await pacer.penalize(Math.min(outcome.retryAfterMs, MAX_BACKOFF_MS));
    }
    return outcome;
  }

  /** A dequeue that cannot finish gives its caller back: same place in line, and back to the waiting room if it was moved. */
  async function returnMember(
    record: IntentRecord,
    intent: Extract<IntentInput, { type: 'dequeue' }>,
    log: JobLog,
    priority?: number,
  ) {
    const member = record.member;
    if (!member) return;
    await queues.putBack(intent.queue, member);
    const moved = record.transfers.some(
      (t) => t.call_uuid === member.call_uuid && t.status_code !== null && t.status_code < 300,
    );
    if (moved) {
      await send(
        {
          call_uuid: member.call_uuid,
          legs: 'aleg',
          aleg_url: links.queue(intent.queue, member.call_uuid),
          aleg_method: 'POST',
        },
        null,
        priority,
      ).catch((err: unknown) => log().warn({ err }, 'could not return the caller to the waiting room'));
    }
    record.member = null;
  }

  return { send, call, returnMember };
}

import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '../config.js';
import {
  intentInput,
  isTerminal,
  orderingCall,
  type IntentError,
  type IntentInput,
  type IntentRecord,
  type TerminalStatus,
} from '../domain/intent.js';
import { resolveQueue } from '../domain/queue-config.js';
import { provenEffect, uncertainEffect, type CallEffect, type CallState } from '../domain/call.js';
import { planTransfers, type TransferRequest, type XmlLinks } from '../domain/transfers.js';
import type { CallStore } from '../infra/call-state.js';
import { enqueueIntent, enqueueOverflow, INTENT_JOB, type IntentJobData, type IntentQueue } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { PlivoClient, RetryReason, TransferOutcome } from '../infra/plivo-client.js';
import type { QueueStore } from '../infra/queue-store.js';
import type { Permit, PlivoPacer } from '../infra/plivo-pacer.js';
import { fixedFieldLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/** Thrown for outcomes worth another attempt; the backoff strategy reads `retryAfterMs`. */
export class RetryableTransferError extends Error {
  constructor(
    message: string,
    readonly reason: RetryReason,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
    this.name = 'RetryableTransferError';
  }
}

export const MAX_BACKOFF_MS = 5 * 60_000;

/** Exponential backoff with jitter (half to full of the step), never shorter than Plivo's Retry-After. */
export function transferBackoff(baseMs: number) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const step = Math.min(baseMs * 2 ** Math.max(attemptsMade - 1, 0), MAX_BACKOFF_MS);
    const jittered = step / 2 + Math.random() * (step / 2);
    const retryAfter = err instanceof RetryableTransferError ? Math.min(err.retryAfterMs ?? 0, MAX_BACKOFF_MS) : 0;
    return Math.round(Math.max(jittered, retryAfter));
  };
}

/**
 * How long an unfinished intent is left alone before `revive` steps in (since its record last
 * changed): a run on its way, or the failed-job handler finishing it, is given that long first.
 */
export const REVIVE_GRACE_MS = 30_000;
/** Most ended callers one dequeue skips in one attempt before giving up. */
const MAX_ABANDONED_PER_ATTEMPT = 20;

export interface ProcessorDeps {
  config: Readonly<Config>;
  store: IntentStore;
  calls: CallStore;
  queues: QueueStore;
  queue: IntentQueue;
  plivo: PlivoClient;
  pacer: PlivoPacer;
  links: XmlLinks;
  metrics: Metrics;
  logger: Logger;
  /** Told of every finished intent (completion callbacks); it can never fail the intent. */
  onFinished?: (record: IntentRecord) => Promise<void>;
  /** REVIVE_GRACE_MS unless told (tests). */
  reviveGraceMs?: number;
}

/** The call lock this run holds; the finish transaction releases it. */
interface CallLock {
  callUuid: string;
  token: string;
  released: boolean;
}

const ended: CallEffect = { state: 'ended', queue: null, held_legs: null };
const seconds = (sinceMs: number) => Math.max(0, (Date.now() - sinceMs) / 1000);

/** A job's logger, made on first use: most jobs log nothing but their finish line. */
type JobLog = () => Logger;

export function createIntentProcessor(deps: ProcessorDeps) {
  const { config, store, calls, queues, queue, plivo, pacer, links, metrics } = deps;
  const finishLine = fixedFieldLogger(deps.logger);
  const jobLog = (intentId: string, jobId: string | undefined): JobLog => {
    let child: Logger | undefined;
    return () => (child ??= deps.logger.child({ intentId, jobId }));
  };
  // Long enough for two transfers at the full timeout plus a wait for a rate-limit slot. A longer
  // rate wait (a backlog at the cap) lets the lock lapse: the call's line still keeps its order,
  // and the finish releases the lock only if it still holds it.
  const lockTtlMs = 2 * (config.PLIVO_TIMEOUT_MS + 1000) + 30_000;

  async function finish(
    record: IntentRecord,
    status: TerminalStatus,
    log: JobLog,
    opts: { error?: IntentError; effect?: CallEffect; from?: CallState; counts?: string[]; lock?: CallLock; raise?: boolean } = {},
  ) {
    const { lock, raise = true, ...rest } = opts;
    // The record, the call's state, its transfer counts and the lock release land in one transaction.
    const release = lock && !lock.released ? { callUuid: lock.callUuid, token: lock.token } : undefined;
    const { record: done, nextIntentId } = await store.finish(record, status, { ...rest, ...(release ? { release } : {}) });
    if (lock) lock.released = true;
    const type = record.request.type;
    metrics.intentsFinished.labels(type, status).inc();
    metrics.intentDuration.labels(type, status).observe(seconds(Date.parse(record.created_at)));
    if (opts.from?.state === 'on_hold' && opts.effect && opts.effect.state !== 'on_hold' && opts.from.since) {
      metrics.holdDuration.observe(seconds(Date.parse(opts.from.since)));
    }
    // One line per intent, of fixed fields: no child logger, no redaction walk.
    finishLine.info({ intentId: record.id, status, error: opts.error, attempts: record.attempts }, 'intent finished');
    // Wake the next intent of this call now instead of when its poll comes round.
    if (nextIntentId) {
      queue
        .getJob(nextIntentId)
        .then(async (job) => {
          if (job && (await job.isDelayed())) await job.promote();
        })
        .catch(() => undefined);
    }
    deps.onFinished?.(done).catch((err: unknown) => log().warn({ err }, 'completion callback could not be scheduled'));
    // A failed intent fails its job too, without retry (BullMQ's failed set is the admin view of it).
    if (status === 'failed' && raise) throw new UnrecoverableError(opts.error?.message ?? 'intent failed');
    return status;
  }

  /**
   * Makes sure an unfinished intent is on its way (the job sweeper and the per-call gate call it).
   * An intent whose job is gone (removed by hand, or a Redis that lost writes) gets its job back
   * under the same id. One whose job BullMQ failed on its own (stalled too often, or an error on
   * its last attempt) while its record was never finished is finished now (`repair`), so it never
   * stays `running` for ever and never blocks its call's line.
   */
  async function revive(id: string, graceMs = 0): Promise<'finished' | 'on_its_way' | 'requeued' | 'repaired'> {
    const record = await store.get(id);
    if (!record || isTerminal(record.status)) return 'finished';
    if (Date.now() - Date.parse(record.updated_at) < graceMs) return 'on_its_way';
    const job = await queue.getJob(id);
    const log = jobLog(id, id);
    if (job?.finishedOn && (await job.isFailed())) {
      log().warn({ status: record.status, failedReason: job.failedReason }, 'an intent whose job had failed was left unfinished; finishing it');
      await repair(record, job.failedReason || 'the job failed');
      return 'repaired';
    }
    if (job && !(job.finishedOn && (await job.isCompleted()))) return 'on_its_way';
    // No job, or a completed job whose intent never finished: run it again under the same id.
    if (job) await job.remove();
    await enqueueIntent(queue, id, orderingCall(record.request));
    metrics.intentsRecovered.inc();
    log().warn({ status: record.status, createdAt: record.created_at }, 'recovered an accepted intent whose job was lost');
    return 'requeued';
  }

  /**
   * Finishes an intent whose job BullMQ failed without the processor finishing it. A dequeue that
   * had taken a caller gives it back first, as when its transfer fails. What holdq can say depends
   * on how far the intent got: one never started (`queued`) sent nothing to Plivo (`worker_failed`);
   * one that was running may have reached Plivo, and nothing tells holdq whether it did, so it says
   * exactly that (`outcome_unknown`) and the call's state becomes `unknown`, never what holdq did
   * not see. Plivo's next fetch of one of holdq's documents for the call settles it.
   */
  async function repair(record: IntentRecord, reason: string): Promise<void> {
    const log = jobLog(record.id, record.id);
    const parsed = intentInput.safeParse(record.request);
    if (!parsed.success) {
      await finish(record, 'failed', log, { error: { code: 'invalid_intent', message: parsed.error.message.slice(0, 500) }, raise: false });
      return;
    }
    const intent = parsed.data;
    const why = reason.slice(0, 300);
    if (intent.type === 'dequeue' && record.member) await returnMember(record, intent, log);
    if (record.status !== 'running') {
      await finish(record, 'failed', log, {
        error: { code: 'worker_failed', message: `the intent could not be run (${why}); nothing was sent to Plivo` },
        raise: false,
      });
      return;
    }
    const call = await calls.get(orderingCall(intent));
    // A newer intent of the call has taken effect since: its state is the truth, whatever this one did.
    const newer = call.applied_seq > record.seq;
    const proven = newer ? null : provenEffect(intent, call, Date.parse(record.created_at));
    const effect = newer ? null : (proven ?? uncertainEffect(intent, call));
    const shown = proven ? `; Plivo has since fetched the document it pointed at, so the call is ${proven.state}` : '';
    await finish(record, 'failed', log, {
      error: {
        code: 'outcome_unknown',
        message: `the run was cut short (${why}) after it may have reached Plivo; holdq did not see whether its transfers took effect${shown}`,
      },
      ...(effect ? { effect, from: call } : {}),
      raise: false,
    });
  }

  /** `slot`: a rate slot booked already (by the gate); otherwise one is acquired here. */
  async function send(transfer: TransferRequest, slot?: Promise<Permit> | null): Promise<TransferOutcome> {
    const permit = await (slot ?? pacer.acquire());
    metrics.plivoRateWait.observe(permit.waitedMs / 1000);
    const outcome = await plivo.transfer(transfer);
    // An answer ends the exchange: Plivo has had the request. Without one (a timeout, a broken
    // connection) it may still be on its way, so it keeps its place a while longer.
    if (outcome.status === null) permit.abandon();
    else permit.release();
    metrics.plivoRequests.labels(outcome.statusLabel).inc();
    metrics.plivoDuration.observe(outcome.durationMs / 1000);
    if (outcome.kind === 'retryable' && outcome.reason === 'http_429' && outcome.retryAfterMs) {
      await pacer.penalize(Math.min(outcome.retryAfterMs, MAX_BACKOFF_MS));
    }
    return outcome;
  }

  /** A dequeue that cannot finish gives its caller back: same place in line, and back to the waiting room if it was moved. */
  async function returnMember(record: IntentRecord, intent: Extract<IntentInput, { type: 'dequeue' }>, log: JobLog) {
    const member = record.member;
    if (!member) return;
    await queues.putBack(intent.queue, member);
    const moved = record.transfers.some((t) => t.call_uuid === member.call_uuid && t.status_code !== null && t.status_code < 300);
    if (moved) {
      await send({ call_uuid: member.call_uuid, legs: 'aleg', aleg_url: links.queue(intent.queue, member.call_uuid), aleg_method: 'POST' }).catch(
        (err: unknown) => log().warn({ err }, 'could not return the caller to the waiting room'),
      );
    }
    record.member = null;
  }

  async function run(job: Job<IntentJobData>, record: IntentRecord, intent: IntentInput, log: JobLog, call: CallState, lock: CallLock, booked: Promise<Permit> | null) {
    /** The rate slot the gate booked, for the first transfer sent. */
    let slot = booked;
    const callUuid = lock.callUuid;
    /** Transfers accepted but not yet counted: the finish counts them in its transaction. */
    const counts: string[] = [];
    const end = (status: TerminalStatus, opts: { error?: IntentError; effect?: CallEffect; from?: CallState } = {}) =>
      finish(record, status, log, { ...opts, counts, lock });
    if (call.applied_seq > record.seq) {
      // A newer intent for this call already took effect: this one must not undo it.
      return end('superseded');
    }
    // The gate has marked the record running, one more attempt, in its own script.
    if (intent.type === 'enqueue' && call.queue !== intent.queue) {
      const settings = resolveQueue(config.QUEUES, intent.queue, config.HOLD_MUSIC_URL);
      if ((await queues.size(intent.queue)) >= settings.max_size) {
        return end('failed', { error: { code: 'queue_full', message: `queue ${intent.queue} is full (${settings.max_size})` } });
      }
    }

    for (let abandoned = 0; ; ) {
      if (intent.type === 'dequeue' && !record.member) {
        record.member = await queues.take(intent.queue, intent.call_uuid);
        await store.save(record);
      }
      const plan = planTransfers(intent, call, { links, defaultMusic: 'default', member: record.member?.call_uuid ?? null });
      if (!plan.ok) return end('failed', { error: plan.error });

      // Transfers accepted in an earlier attempt are not sent again.
      const accepted = new Set(record.transfers.filter((t) => t.status_code !== null && t.status_code < 300).map((t) => `${t.call_uuid} ${t.aleg_url}`));
      const remaining = plan.transfers.filter((t) => !accepted.has(`${t.call_uuid} ${t.aleg_url}`));
      if (call.transfer_count + remaining.length > config.TRANSFER_BUDGET) {
        if (intent.type === 'dequeue') await returnMember(record, intent, log);
        return end('failed', {
          error: {
            code: 'transfer_limit',
            message: `call ${callUuid} has used ${call.transfer_count} of its ${config.TRANSFER_BUDGET} transfers (Plivo hangs up at 70)`,
          },
        });
      }

      let next: 'done' | 'next_member' = 'done';
      for (const [i, transfer] of remaining.entries()) {
        const outcome = await send(transfer, slot);
        slot = null;
        const at = new Date().toISOString();
        const api_id = outcome.kind === 'accepted' ? outcome.apiId : null;
        record.transfers.push({ ...transfer, status_code: outcome.status, api_id, at, ...(outcome.kind === 'accepted' ? {} : { error: outcome.message }) });

        if (outcome.kind === 'accepted') {
          if (i === remaining.length - 1) counts.push(transfer.call_uuid);
          else await store.saveTransfer(record, transfer.call_uuid);
          continue;
        }
        const member = record.member;
        if (outcome.kind === 'rejected' && outcome.status === 404 && intent.type === 'dequeue' && member?.call_uuid === transfer.call_uuid) {
          // The caller hung up while waiting: it leaves as abandoned and the next one is tried.
          metrics.queueWaitFor(intent.queue, 'abandoned').observe(seconds(member.enqueued_at));
          await calls.apply(member.call_uuid, ended, await calls.get(member.call_uuid));
          record.member = null;
          if (intent.call_uuid || ++abandoned >= MAX_ABANDONED_PER_ATTEMPT) {
            return end('failed', { error: { code: 'queue_empty', message: `no live caller left in queue ${intent.queue}` } });
          }
          next = 'next_member';
          break;
        }
        if (outcome.kind === 'rejected') {
          const gone = outcome.status === 404;
          if (intent.type === 'dequeue') await returnMember(record, intent, log);
          return end('failed', {
            error: { code: gone ? 'call_not_found' : 'upstream_rejected', message: outcome.message },
            ...(gone && transfer.call_uuid === callUuid ? { effect: ended, from: call } : {}),
          });
        }
        if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
          if (intent.type === 'dequeue') await returnMember(record, intent, log);
          return end('failed', {
            error: { code: 'upstream_unavailable', message: `gave up after ${record.attempts} attempts: ${outcome.message}` },
          });
        }
        metrics.retries.labels(outcome.reason).inc();
        await store.save(record);
        log().warn({ reason: outcome.reason, status: outcome.status, retryAfterMs: outcome.retryAfterMs }, 'transfer will be retried');
        throw new RetryableTransferError(outcome.message, outcome.reason, outcome.retryAfterMs);
      }
      if (next === 'next_member') continue;

      if (intent.type === 'dequeue' && record.member) {
        const member = record.member;
        metrics.queueWaitFor(intent.queue, 'bridged').observe(seconds(member.enqueued_at));
        await calls.apply(member.call_uuid, plan.effect, await calls.get(member.call_uuid));
      }
      const status = await end('completed', { effect: plan.effect, from: call });
      if (intent.type === 'enqueue') {
        const settings = resolveQueue(config.QUEUES, intent.queue, config.HOLD_MUSIC_URL);
        const maxWait = intent.max_wait_seconds ?? settings.max_wait_seconds;
        const overflow = intent.overflow ?? settings.overflow;
        if (maxWait && overflow) await enqueueOverflow(queue, { callUuid, queue: intent.queue, intentId: record.id, overflow }, maxWait * 1000);
      }
      return status;
    }
  }

  /**
   * BullMQ's `failed` event, for an intent job on its last attempt: an error thrown there, one that
   * cannot be retried, or a job that stalled too often (BullMQ fails it when a worker next takes
   * it). An intent the processor did not finish is finished by `repair`. Failures of earlier
   * attempts are retries, not endings.
   */
  async function onJobFailed(job: Job<IntentJobData> | undefined, err: Error) {
    const final = job !== undefined && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError || /stalled|Unrecoverable/i.test(`${err.name} ${err.message}`));
    if (!job || job.name !== INTENT_JOB || !final) return;
    const record = await store.get(job.data.intentId);
    if (!record || isTerminal(record.status)) return;
    await repair(record, `job failed: ${err.message}`);
  }

  processIntent.onJobFailed = onJobFailed;
  processIntent.revive = revive;
  return processIntent;

  async function processIntent(job: Job<IntentJobData>, token?: string): Promise<TerminalStatus | 'skipped'> {
    const intentId = job.data?.intentId;
    if (typeof intentId !== 'string') throw new UnrecoverableError('malformed job: no intentId');
    const log = jobLog(intentId, job.id);
    let callUuid = job.data.callUuid;
    if (typeof callUuid !== 'string') {
      // A job from before jobs named their call: find the call from the record.
      const stored = await store.get(intentId);
      const parsedStored = stored ? intentInput.safeParse(stored.request) : null;
      if (!stored || isTerminal(stored.status)) return 'skipped';
      if (!parsedStored?.success) return invalid(stored, parsedStored?.error.message ?? 'no request', log);
      callUuid = orderingCall(parsedStored.data);
    }
    const lock: CallLock = { callUuid, token: token ?? randomUUID(), released: false };
    // One round trip: the per-call gate and lock, the record and the call's state, and the first transfer's rate slot.
    const slot = pacer.booking();
    const gate = await calls.begin(callUuid, intentId, lock.token, lockTtlMs, slot);
    if (gate.kind !== 'ok') {
      if (gate.kind === 'blocked') await revive(gate.headIntentId, deps.reviveGraceMs ?? REVIVE_GRACE_MS);
      // Wait for the older intent; its finish promotes this job, the delay is only the fallback.
      const backoff = Math.min(50 * 2 ** Math.min(job.attemptsStarted, 6), 2000);
      await job.moveToDelayed(Date.now() + backoff + Math.floor(Math.random() * 50), token);
      throw new DelayedError();
    }
    try {
      const record = gate.recordJson ? (JSON.parse(gate.recordJson) as IntentRecord) : null;
      // The accept script writes a record and its job together, so a job without a record is
      // one whose intent has outlived its retention: nothing is left to do.
      if (!record) return 'skipped';
      if (isTerminal(record.status)) return 'skipped'; // a re-run after a stall: the work is done
      if (record.status !== 'running' && gate.call.applied_seq <= record.seq) {
        // The gate marks the record by editing its JSON (MARK_RUNNING_FUNCTION); a record it could not read is run anyway.
        log().warn({ status: record.status }, 'the gate could not mark the record running');
      }
      // Job payloads and records outlive deploys: validate again, and fail without retry if the shape is gone.
      const parsed = intentInput.safeParse(record.request);
      if (!parsed.success) return invalid(record, parsed.error.message, log, lock);
      if (orderingCall(parsed.data) !== callUuid) return invalid(record, `the job names call ${callUuid}, the intent another`, log, lock);
      return await run(job, record, parsed.data, log, gate.call, lock, gate.slot);
    } finally {
      // A slot the gate booked but no transfer used (superseded, invalid, failed before sending) is freed.
      slot.cancel();
      if (!lock.released) await calls.release(callUuid, lock.token).catch((err: unknown) => log().warn({ err }, 'could not release the call lock'));
    }
  }

  function invalid(record: IntentRecord, message: string, log: JobLog, lock?: CallLock) {
    return finish(record, 'failed', log, { error: { code: 'invalid_intent', message: message.slice(0, 500) }, ...(lock ? { lock } : {}) });
  }
}

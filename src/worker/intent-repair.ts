import { UnrecoverableError, type Job } from 'bullmq';
import { provenEffect, uncertainEffect } from '../domain/call.js';
import { intentInput, isTerminal, orderingCall, type IntentRecord } from '../domain/intent.js';
import { classFront, recordClass } from '../domain/intent-class.js';
import type { CallStore } from '../infra/call-state.js';
import { addIntentJob, INTENT_JOB, type IntentJobData, type IntentJobs } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { jobLogger, type Finish } from './run-context.js';
import type { TransferSender } from './transfer-sender.js';

/**
 * How long an unfinished intent is left alone before `revive` steps in (since its record last
 * changed): a run on its way, or the failed-job handler finishing it, is given that long first.
 */
export const REVIVE_GRACE_MS = 30_000;

export interface RepairDeps {
  store: IntentStore;
  calls: CallStore;
  jobs: IntentJobs;
  metrics: Metrics;
  logger: Logger;
  finish: Finish;
  sender: TransferSender;
}

export type Revival = 'finished' | 'on_its_way' | 'requeued' | 'repaired';

/**
 * Intents whose run BullMQ ended without the processor finishing them: they must never stay
 * `running` for ever, never block their call's line, and never claim a call state holdq did not
 * see (docs/architecture.md, "When a run is cut short").
 */
export function createIntentRepair(deps: RepairDeps) {
  const { store, calls, jobs, metrics, finish, sender } = deps;
  const jobLog = jobLogger(deps.logger);

  /**
   * Finishes an intent whose job BullMQ failed without the processor finishing it. A dequeue that
   * had taken a caller gives it back first, as when its transfer fails. What holdq can say depends
   * on how far the intent got: one never started (`queued`) sent nothing to Plivo (`worker_failed`);
   * one that was running may have reached Plivo, and nothing tells holdq whether it did, so it says
   * exactly that (`outcome_unknown`) and the call's state becomes `unknown` (keeping what the intent
   * would have done), unless a fetch of holdq's XML by Plivo since the intent was accepted shows
   * where the call is.
   */
  async function repair(record: IntentRecord, reason: string): Promise<void> {
    const log = jobLog(record.id, record.id);
    const parsed = intentInput.safeParse(record.request);
    if (!parsed.success) {
      await finish(record, 'failed', log, {
        error: { code: 'invalid_intent', message: parsed.error.message.slice(0, 500) },
        raise: false,
      });
      return;
    }
    const intent = parsed.data;
    const why = reason.slice(0, 300);
    if (intent.type === 'dequeue' && record.member)
      await sender.returnMember(record, intent, log, classFront(recordClass(record)));
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

  /**
   * Makes sure an unfinished intent is on its way (the job sweeper and the per-call gate call it).
   * An intent whose job is gone (removed by hand, or a Redis that lost writes) gets its job back
   * under the same id. One whose job BullMQ failed on its own (stalled too often, or an error on
   * its last attempt) while its record was never finished is finished now (`repair`).
   */
  async function revive(id: string, graceMs = 0): Promise<Revival> {
    const record = await store.get(id);
    if (!record || isTerminal(record.status)) return 'finished';
    if (Date.now() - Date.parse(record.updated_at) < graceMs) return 'on_its_way';
    const job = await jobs.getJob(id);
    const log = jobLog(id, id);
    if (job?.finishedOn && (await job.isFailed())) {
      log().warn(
        { status: record.status, failedReason: job.failedReason },
        'an intent whose job had failed was left unfinished; finishing it',
      );
      await repair(record, job.failedReason || 'the job failed');
      return 'repaired';
    }
    if (job && !(job.finishedOn && (await job.isCompleted()))) return 'on_its_way';
    // No job, or a completed job whose intent never finished: run it again under the same id.
    if (job) await job.remove();
    await addIntentJob(jobs, record);
    metrics.intentsRecovered.inc();
    log().warn(
      { status: record.status, createdAt: record.created_at },
      'recovered an accepted intent whose job was lost',
    );
    return 'requeued';
  }

  /**
   * BullMQ's `failed` event, for an intent job on its last attempt: an error thrown there, one that
   * cannot be retried, or a job that stalled too often (BullMQ fails it when a worker next takes
   * it). An intent the processor did not finish is finished by `repair`. Failures of earlier
   * attempts are retries, not endings.
   */
  async function onJobFailed(job: Job<IntentJobData> | undefined, err: Error) {
    const final =
      job !== undefined &&
      (job.attemptsMade >= (job.opts.attempts ?? 1) ||
        err instanceof UnrecoverableError ||
        /stalled|Unrecoverable/i.test(`${err.name} ${err.message}`));
    if (!job || job.name !== INTENT_JOB || !final) return;
    const record = await store.get(job.data.intentId);
    if (!record || isTerminal(record.status)) return;
    await repair(record, `job failed: ${err.message}`);
  }

  return { repair, revive, onJobFailed };
}

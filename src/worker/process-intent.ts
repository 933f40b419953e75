import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '../config.js';
import type { PlivoAccount } from '../domain/account.js';
import { intentInput, isTerminal, orderingCall, type IntentRecord, type TerminalStatus } from '../domain/intent.js';
import type { XmlLinks } from '../domain/xml-links.js';
import { doublingBackoffMs } from '../infra/backoff.js';
import type { CallStore } from '../infra/call-state.js';
import type { CallbackStore } from '../infra/callback-store.js';
import type { IntentJobData, IntentJobs } from '../infra/intent-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import type { PlivoClient } from '../infra/plivo-client.js';
import type { PlivoPacer } from '../infra/plivo-pacer.js';
import type { QueueStore } from '../infra/queue-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createFinisher } from './intent-finisher.js';
import { createIntentRepair, REVIVE_GRACE_MS } from './intent-repair.js';
import { jobLogger, type CallLock, type JobLog } from './run-context.js';
import { runIntent } from './run-intent.js';
import { createTransferSender } from './transfer-sender.js';

export interface ProcessorDeps {
  config: Readonly<Config>;
  /** The account the intents are of: its transfer budget, its metrics label. */
  account: PlivoAccount;
  store: IntentStore;
  calls: CallStore;
  callbacks: CallbackStore;
  queues: QueueStore;
  /** The BullMQ queue of intent jobs. */
  jobs: IntentJobs;
  plivo: PlivoClient;
  pacer: PlivoPacer;
  /** Make Call's pace (PLIVO_MAX_CPS). */
  callPacer: PlivoPacer;
  links: XmlLinks;
  metrics: Metrics;
  logger: Logger;
  /** Told of every finished intent (completion callbacks); it can never fail the intent. */
  onFinished?: (record: IntentRecord) => Promise<void>;
  /** REVIVE_GRACE_MS unless told (tests). */
  reviveGraceMs?: number;
}

/**
 * How long a run holds its call's lock: two transfers at the full timeout plus a wait for a rate
 * slot. A longer rate wait (a backlog at the cap) lets the lock lapse: the call's line still keeps
 * its order, and the finish releases the lock only if it still holds it.
 */
export const callLockMs = (plivoTimeoutMs: number) => 2 * (plivoTimeoutMs + 1000) + 30_000;

/** How long a job waits before it asks its call's gate again: a fallback, for the intent ahead wakes it when it finishes. */
const gateRetryMs = (attemptsStarted: number) => doublingBackoffMs(attemptsStarted) + Math.floor(Math.random() * 50);

/**
 * The BullMQ processor of intent jobs: the per-call gate (one round trip: the gate and lock, the
 * record marked running, the call's state, the first transfer's rate slot), then the run
 * (run-intent.ts). `onJobFailed` and `revive` finish intents whose run BullMQ ended
 * (intent-repair.ts).
 */
export function createIntentProcessor(deps: ProcessorDeps) {
  const { config, store, calls, pacer } = deps;
  const jobLog = jobLogger(deps.logger);
  const finish = createFinisher(deps);
  const sender = createTransferSender(deps);
  const repairs = createIntentRepair({ ...deps, finish, sender });
  const runDeps = { ...deps, finish, sender };
  const lockMs = callLockMs(config.PLIVO_TIMEOUT_MS);

  const invalid = (record: IntentRecord, message: string, log: JobLog, lock?: CallLock) =>
    finish(record, 'failed', log, {
      error: { code: 'invalid_intent', message: message.slice(0, 500) },
      ...(lock ? { lock } : {}),
    });

  /**
   * An intent waiting for an older one of its call lends it its priority, if better: an agent's
   * hold behind a bulk transfer of the same call waits for that transfer, but no longer behind
   * the whole bulk class (priority inheritance; the order of the call's intents is unchanged).
   */
  async function lendPriority(headId: string, priority: number, log: JobLog) {
    if (!(priority > 0)) return;
    const head = await deps.jobs.getJob(headId);
    if (!head || !(head.priority > priority)) return;
    await head
      .changePriority({ priority })
      .then(() => log().debug({ headIntentId: headId, priority }, 'lent its priority to the intent ahead'))
      .catch((err: unknown) => log().debug({ err, headIntentId: headId }, 'could not lend its priority'));
  }

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
    // The job's priority ranks its rate slots too: class first, then its client's turn (docs/architecture.md).
    const slot = pacer.booking(job.priority);
    const gate = await calls.begin(callUuid, intentId, lock.token, lockMs, slot);
    if (gate.kind !== 'ok') {
      if (gate.kind === 'blocked') {
        await repairs.revive(gate.headIntentId, deps.reviveGraceMs ?? REVIVE_GRACE_MS);
        await lendPriority(gate.headIntentId, job.priority, log);
      }
      await job.moveToDelayed(Date.now() + gateRetryMs(job.attemptsStarted), token);
      throw new DelayedError();
    }
    try {
      const record = gate.recordJson ? (JSON.parse(gate.recordJson) as IntentRecord) : null;
      // The accept script writes a record and its job together, so a job without a record is
      // one whose intent has outlived its retention: nothing is left to do.
      if (!record) return 'skipped';
      if (isTerminal(record.status)) return 'skipped'; // a re-run after a stall: the work is done
      if (record.status !== 'running' && gate.call.applied_seq <= record.seq) {
        // The gate marks the record by editing its JSON (lua/includes/mark-running.lua); a record it could not read is run anyway.
        log().warn({ status: record.status }, 'the gate could not mark the record running');
      }
      // Job payloads and records outlive deploys: validate again, and fail without retry if the shape is gone.
      const parsed = intentInput.safeParse(record.request);
      if (!parsed.success) return invalid(record, parsed.error.message, log, lock);
      if (orderingCall(parsed.data) !== callUuid)
        return invalid(record, `the job names call ${callUuid}, the intent another`, log, lock);
      return await runIntent(
        { job, record, intent: parsed.data, log, call: gate.call, lock, slot: gate.slot, counts: [] },
        runDeps,
      );
    } finally {
      // A slot the gate booked but no transfer used (superseded, invalid, failed before sending) is freed.
      slot.cancel();
      if (!lock.released)
        await calls
          .release(callUuid, lock.token)
          .catch((err: unknown) => log().warn({ err }, 'could not release the call lock'));
    }
  }

  return Object.assign(processIntent, { onJobFailed: repairs.onJobFailed, revive: repairs.revive });
}

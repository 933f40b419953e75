import type { Job } from 'bullmq';
import type { CallEffect, CallState } from '../domain/call.js';
import type { IntentError, IntentInput, IntentRecord, TerminalStatus } from '../domain/intent.js';
import type { IntentJobData } from '../infra/intent-queue.js';
import type { Permit } from '../infra/plivo-pacer.js';
import type { Logger } from '../observability/logger.js';

/** The call lock a run holds; the finish transaction releases it. */
export interface CallLock {
  callUuid: string;
  token: string;
  released: boolean;
}

/** A job's logger, made on first use: most jobs log nothing but their finish line. */
export type JobLog = () => Logger;

export function jobLogger(logger: Logger) {
  return (intentId: string, jobId: string | undefined): JobLog => {
    let child: Logger | undefined;
    return () => (child ??= logger.child({ intentId, jobId }));
  };
}

export const secondsSince = (ms: number) => Math.max(0, (Date.now() - ms) / 1000);

export interface FinishOptions {
  error?: IntentError;
  effect?: CallEffect;
  from?: CallState;
  /** Calls whose transfer count goes up by one in the same transaction. */
  counts?: string[];
  lock?: CallLock;
  /** Fail the job too (throw UnrecoverableError) when the intent fails; default true. */
  raise?: boolean;
}

export type Finish = (
  record: IntentRecord,
  status: TerminalStatus,
  log: JobLog,
  opts?: FinishOptions,
) => Promise<TerminalStatus>;

/** One run of an intent that passed its call's gate. */
export interface RunContext<I extends IntentInput = IntentInput> {
  job: Job<IntentJobData>;
  record: IntentRecord;
  intent: I;
  log: JobLog;
  /** The call's state as the gate read it. */
  call: CallState;
  lock: CallLock;
  /** The rate slot the gate booked, for the first transfer sent (then null). */
  slot: Promise<Permit> | null;
  /** Transfers accepted but not yet counted: the finish counts them. */
  counts: string[];
}

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CLASS_BAND, INTENT_CLASSES } from '../domain/intent-class.js';
import type { CallStore } from '../infra/call-state.js';
import type { Keys } from '../infra/keys.js';
import type { PlivoClient } from '../infra/plivo-client.js';
import type { PlivoPacer } from '../infra/plivo-pacer.js';
import type { QueueStore } from '../infra/queue-store.js';
import { LEASE } from '../infra/scripts.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { startPeriodic } from './periodic.js';
import { ENDED } from './send-transfers.js';

/** A pacer priority past every class's band: housekeeping waits for the intents, and moves no class's turn. */
const HOUSEKEEPING = INTENT_CLASSES.length * CLASS_BAND;

/** Most calls one round looks at, per queue and on hold: a round stays short; the next goes on. */
const MAX_PER_ROUND = 5000;

/**
 * Reconciliation with Plivo (SPEC §11): hangup callbacks are the fast path, and Plivo does not
 * promise them; this is the net under them. Every interval, the worker that holds the account's
 * lease asks Plivo for its live calls (one request, paced like any other), and every call holdq
 * has had waiting in a queue or on hold for longer than an interval that Plivo no longer has ends
 * there: it leaves its queue as abandoned, with its events, as a hangup would. A call tracked for
 * less than an interval is left alone (it may be mid-transfer, on its way to the list), and a
 * Plivo error ends nobody.
 *
 * The lease (lua/lease.lua) lasts three quarters of an interval and every worker asks for it four
 * times an interval, so a dead holder's lease passes to another worker within one interval.
 */
export function startReconciler(deps: {
  account: { name: string };
  redis: Redis;
  keys: Keys;
  calls: CallStore;
  queues: QueueStore;
  plivo: PlivoClient;
  pacer: PlivoPacer;
  metrics: Metrics;
  logger: Logger;
  intervalMs: number;
}) {
  const { account, keys, calls, queues, metrics, logger, intervalMs } = deps;
  const token = randomUUID();
  let lastRun = 0;
  // The series exist from the start, so a rate() over them works before the first end.
  metrics.reconcileEnded.labels({ account: account.name }).inc(0);

  /** Calls tracked since before `cutoff` as waiting (by queue) or on hold. */
  async function candidates(cutoff: number) {
    const waiting: { call: string; queue: string }[] = [];
    for (let after: string | null = null; ;) {
      const names = await queues.names(after, 500);
      for (const queue of names)
        for (const call of await queues.waitingSince(queue, cutoff, MAX_PER_ROUND)) waiting.push({ call, queue });
      if (names.length < 500) break;
      after = names.at(-1)!;
    }
    const held = await deps.redis.zrangebyscore(keys.onHold(), '-inf', cutoff, 'LIMIT', 0, MAX_PER_ROUND);
    return { waiting, held };
  }

  /** One round: the live list, then the ends. Returns how many calls it ended (null: not this worker's turn, or Plivo failed). */
  async function reconcile(): Promise<number | null> {
    const started = Date.now();
    const { waiting, held } = await candidates(started - intervalMs);
    if (waiting.length === 0 && held.length === 0) {
      metrics.reconcileRuns.labels({ account: account.name, outcome: 'nothing_to_check' }).inc();
      return 0;
    }
    // One request of the account's rate, served after every class's intents.
    const permit = await deps.pacer.acquire(HOUSEKEEPING);
    const live = await deps.plivo.listLive();
    if (live.kind === 'error') {
      permit.release();
      if (live.retryAfterMs !== null) await deps.pacer.penalize(live.retryAfterMs);
      metrics.reconcileRuns.labels({ account: account.name, outcome: 'plivo_error' }).inc();
      logger.warn({ err: live.message, status: live.statusLabel }, 'reconcile: could not list live calls; nobody ends');
      return null;
    }
    permit.release();
    let ended = 0;
    const end = async (uuid: string, was: 'queued' | 'on_hold', queue: string | null) => {
      // Read again: the call may have moved since the candidates were read (bridged, unheld).
      const call = await calls.get(uuid);
      if (call.state !== was || (queue !== null && call.queue !== queue)) return;
      // One script: out of its queue (queue.left, the positions behind it), out of hold, ended.
      const { waitedMs } = await calls.apply(uuid, ENDED, call);
      if (queue && waitedMs !== null) metrics.queueWaitFor(account.name, queue, 'abandoned').observe(waitedMs / 1000);
      metrics.reconcileEnded.labels({ account: account.name }).inc();
      ended++;
      logger.info({ callUuid: uuid, was, queue }, 'reconcile: Plivo has no such live call; it ends');
    };
    for (const { call, queue } of waiting) if (!live.calls.has(call)) await end(call, 'queued', queue);
    for (const call of held) if (!live.calls.has(call)) await end(call, 'on_hold', null);
    metrics.reconcileRuns.labels({ account: account.name, outcome: 'ok' }).inc();
    return ended;
  }

  async function tick() {
    const lease = await LEASE.run(
      deps.redis,
      { lease: keys.reconcileLease() },
      {
        token,
        ttl_ms: Math.round(intervalMs * 0.75),
      },
    );
    if (lease.status === 'held') return;
    if (Date.now() - lastRun < intervalMs) return;
    lastRun = Date.now();
    await reconcile();
  }

  const rounds = startPeriodic(tick, {
    intervalMs: Math.max(50, Math.round(intervalMs / 4)),
    logger,
    what: 'reconciling with Plivo',
  });
  return {
    /** One round now, lease or not (tests). */
    reconcile,
    stop: rounds.stop,
  };
}

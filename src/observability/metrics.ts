import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { INTENT_TYPES } from '../domain/intent.js';

/**
 * Every holdq metric family (README, "Operations": the metrics), registered on the registry the process
 * passes in: one per process, a fresh one per test app. Labels are bounded:
 * never a call UUID or an intent id.
 */
export function createMetrics(
  registry: Registry,
  opts: { defaults?: boolean; queueLabels?: { configured: readonly string[]; max: number } } = {},
) {
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const latency = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  const m = {
    intentsReceived: new Counter({
      name: 'holdq_intents_received_total',
      help: 'Intents accepted by the API (202), by type.',
      labelNames: ['type'] as const,
      registers,
    }),
    intentsFinished: new Counter({
      name: 'holdq_intents_finished_total',
      help: 'Intents that reached a terminal state, by type and outcome.',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    intentDuration: new Histogram({
      name: 'holdq_intent_duration_seconds',
      help: 'Time from acceptance to a terminal state.',
      labelNames: ['type', 'outcome'] as const,
      buckets: latency,
      registers,
    }),
    plivoRequests: new Counter({
      name: 'holdq_plivo_requests_total',
      help: 'Requests sent to Plivo (Transfer a call, Make Call), by HTTP status (or timeout, network_error) and account.',
      labelNames: ['status', 'account'] as const,
      registers,
    }),
    plivoDuration: new Histogram({
      name: 'holdq_plivo_request_duration_seconds',
      help: 'Duration of Transfer requests to Plivo, by account.',
      labelNames: ['account'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    plivoRateWait: new Histogram({
      name: 'holdq_plivo_rate_wait_seconds',
      help: "Time a Transfer request, ready to go, waited for its slot under PLIVO_MAX_RPS, by its intent's class.",
      labelNames: ['class', 'account'] as const,
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    retries: new Counter({
      name: 'holdq_transfer_retries_total',
      help: 'Transfer attempts scheduled for retry, by reason and account.',
      labelNames: ['reason', 'account'] as const,
      registers,
    }),
    jobs: new Gauge({
      name: 'holdq_jobs',
      help: 'Intent jobs in the BullMQ queues, by state and account (each account has a queue of its own).',
      labelNames: ['state', 'account'] as const,
      registers,
    }),
    httpRequests: new Counter({
      name: 'holdq_http_requests_total',
      help: 'HTTP requests served, by method, route and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'holdq_http_request_duration_seconds',
      help: 'HTTP request duration, by method and route.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    queueCallers: new Gauge({
      name: 'holdq_queue_callers',
      help: 'Callers waiting in each queue (queue names are per account).',
      labelNames: ['queue', 'account'] as const,
      registers,
    }),
    queueOldestWait: new Gauge({
      name: 'holdq_queue_oldest_wait_seconds',
      help: 'How long the longest-waiting caller of each queue has waited.',
      labelNames: ['queue', 'account'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'holdq_queue_wait_seconds',
      help: 'Time callers spent in a queue, by how they left it (bridged, overflow, abandoned).',
      labelNames: ['queue', 'outcome', 'account'] as const,
      buckets: [1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600],
      registers,
    }),
    queueEstimatedWait: new Gauge({
      name: 'holdq_queue_estimated_wait_seconds',
      help: 'A caller joining each queue now is estimated to wait this long (absent while a queue has too little history).',
      labelNames: ['queue', 'account'] as const,
      registers,
    }),
    queueServiceLevel: new Gauge({
      name: 'holdq_queue_service_level_ratio',
      help: "Callers answered within the queue's service-level threshold, of those answered, over STATS_WINDOW_SECONDS (absent before the first answer).",
      labelNames: ['queue', 'account'] as const,
      registers,
    }),
    queueServiceLevelTarget: new Gauge({
      name: 'holdq_queue_service_level_target',
      help: "The service-level ratio each queue should keep (its service_level_target), beside holdq_queue_service_level_ratio: the alert's line.",
      labelNames: ['queue', 'account'] as const,
      registers,
    }),
    reconcileEnded: new Counter({
      name: 'holdq_reconcile_ended_total',
      help: 'Calls holdq had waiting or on hold that Plivo no longer had live, ended by reconciliation (SPEC §11).',
      labelNames: ['account'] as const,
      registers,
    }),
    reconcileRuns: new Counter({
      name: 'holdq_reconcile_runs_total',
      help: 'Reconciliation rounds, by outcome (ok, plivo_error, nothing_to_check).',
      labelNames: ['account', 'outcome'] as const,
      registers,
    }),
    callMeBack: new Counter({
      name: 'holdq_queue_callbacks_total',
      help: 'Call-me-back steps (SPEC §10), by outcome: requested, dialed, connected, unanswered (retried later), failed (left the queue).',
      labelNames: ['account', 'outcome'] as const,
      registers,
    }),
    eventStreams: new Gauge({
      name: 'holdq_event_streams',
      help: 'Event streams (GET /v1/events) this API process serves now.',
      registers,
    }) as Gauge & { collect?: () => void },
    callsOnHold: new Gauge({
      name: 'holdq_calls_on_hold',
      help: 'Calls on hold now, by account.',
      labelNames: ['account'] as const,
      registers,
    }),
    holdDuration: new Histogram({
      name: 'holdq_hold_duration_seconds',
      help: 'How long calls stayed on hold.',
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600],
      registers,
    }),
    intentsRecovered: new Counter({
      name: 'holdq_intents_recovered_total',
      help: 'Accepted intents whose job was found missing and queued again by the sweeper.',
      registers,
    }),
    callbacks: new Counter({
      name: 'holdq_callbacks_total',
      help: 'Completion callback deliveries, by outcome (delivered, retried, dropped).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    simulated: new Gauge({
      name: 'holdq_plivo_simulated',
      help: "1 when an account's transfers go to the built-in Plivo simulator instead of Plivo.",
      labelNames: ['account'] as const,
      registers,
    }),
  };
  for (const type of INTENT_TYPES) m.intentsReceived.labels(type).inc(0);
  // Each account's queues have bounded labels of their own; accounts are configured, so bounded too.
  const queueLabels = new Map<string, QueueLabels>();
  const queueLabelsFor = (account: string) => {
    let labels = queueLabels.get(account);
    if (!labels) {
      labels = createQueueLabels(
        opts.queueLabels?.configured ?? [],
        opts.queueLabels?.max ?? DEFAULT_METRICS_MAX_QUEUES,
      );
      queueLabels.set(account, labels);
    }
    return labels;
  };
  return {
    ...m,
    queueLabelsFor,
    /** The wait histogram's series for an account's queue, under its bounded label. */
    queueWaitFor: (account: string, queue: string, outcome: QueueLeaveOutcome) =>
      m.queueWait.labels({ queue: queueLabelsFor(account).label(queue), outcome, account }),
  };
}

export type QueueLeaveOutcome = 'bridged' | 'overflow' | 'abandoned';
const QUEUE_LEAVE_OUTCOMES: readonly QueueLeaveOutcome[] = ['bridged', 'overflow', 'abandoned'];
export const OTHER_QUEUES = '_other';
export const DEFAULT_METRICS_MAX_QUEUES = 50;

/**
 * The `queue` label of every per-queue series, bounded: a configured queue's own name;
 * the first `max` other queues this process sees keep theirs too (until the queue is forgotten);
 * all the rest are summed under `_other`. Names stick once given, so a series does not hop
 * between labels from one scrape to the next.
 */
export function createQueueLabels(configured: readonly string[], max: number) {
  const fixed = new Set(configured);
  const admitted = new Set<string>();
  return {
    label(name: string): string {
      if (fixed.has(name) || admitted.has(name)) return name;
      if (admitted.size < max) {
        admitted.add(name);
        return name;
      }
      return OTHER_QUEUES;
    },
    configured: () => [...fixed],
    admitted: () => [...admitted],
    /** Lets go of names holdq has forgotten (their queues idle and empty), so others can have a label. */
    release(names: readonly string[]) {
      for (const name of names) admitted.delete(name);
    },
  };
}
export type QueueLabels = ReturnType<typeof createQueueLabels>;

export type Metrics = ReturnType<typeof createMetrics>;

export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

export interface StateSources {
  /** The account these are of (every series carries it). */
  account: string;
  jobCounts(): Promise<Record<string, number>>;
  /** Every queue with callers now. */
  queues(): Promise<{ name: string; waiting: number; oldest_wait_seconds: number }[]>;
  /** Which of these queue names holdq still knows. */
  known(names: readonly string[]): Promise<boolean[]>;
  onHold(): Promise<number>;
  /** A queue's estimate for a caller joining now and its service level (null: none yet). */
  stats(
    name: string,
  ): Promise<{ estimated_wait_seconds: number | null; service_level: number | null; service_level_target: number }>;
}

type QueueGauges = Map<string, { waiting: number; oldest: number }>;

/**
 * Fills the point-in-time gauges (jobs, queues, holds) of every account from Redis at scrape
 * time (prom-client's async collect), never from a timer. A Redis outage leaves an account's
 * last values instead of failing the scrape. Queue series carry bounded labels: configured
 * queues always (0 when empty), others as createQueueLabels gives them, the busiest first.
 */
export function observeState(metrics: Metrics, accounts: readonly StateSources[]) {
  observeJobCounts(
    metrics,
    accounts.map((a) => ({ account: a.account, counts: () => a.jobCounts() })),
  );
  // The gauges of one scrape share their reads of Redis: each read is kept for 250 ms.
  const oncePerScrape = <T>(read: () => Promise<T>) => {
    let kept: { at: number; value: Promise<T> } | null = null;
    return () => {
      if (kept && Date.now() - kept.at <= 250) return kept.value;
      kept = { at: Date.now(), value: read() };
      return kept.value;
    };
  };
  async function byLabel(sources: StateSources): Promise<QueueGauges> {
    const labels = metrics.queueLabelsFor(sources.account);
    const busy = (await sources.queues()).sort((a, b) => b.waiting - a.waiting);
    const admitted = labels.admitted();
    const known = admitted.length > 0 ? await sources.known(admitted) : [];
    const forgotten = admitted.filter((_, i) => !known[i]);
    labels.release(forgotten);
    for (const queue of forgotten)
      for (const outcome of QUEUE_LEAVE_OUTCOMES)
        metrics.queueWait.remove({ queue, outcome, account: sources.account });
    const out: QueueGauges = new Map();
    for (const name of labels.configured()) out.set(name, { waiting: 0, oldest: 0 });
    for (const q of busy) {
      const label = labels.label(q.name);
      const sum = out.get(label) ?? { waiting: 0, oldest: 0 };
      out.set(label, { waiting: sum.waiting + q.waiting, oldest: Math.max(sum.oldest, q.oldest_wait_seconds) });
    }
    return out;
  }
  const queues = new Map(accounts.map((sources) => [sources.account, oncePerScrape(() => byLabel(sources))]));
  // The last good read of each account: an account whose read fails keeps its series.
  const last = new Map<string, QueueGauges>();
  const readAll = async () => {
    for (const sources of accounts) {
      try {
        last.set(sources.account, await queues.get(sources.account)!());
      } catch {
        // keep this account's previous values
      }
    }
    return last;
  };
  // Estimates and service levels of the queues with a series of their own (`_other` has none: a
  // ratio does not sum).
  type QueueStat = { e: number | null; sl: number | null; target: number };
  const readStats = oncePerScrape(async () => {
    const out = new Map<string, Map<string, QueueStat>>();
    for (const [account, byQueue] of await readAll()) {
      const sources = accounts.find((a) => a.account === account)!;
      const mine = new Map<string, QueueStat>();
      for (const queue of byQueue.keys()) {
        if (queue === OTHER_QUEUES) continue;
        try {
          const st = await sources.stats(queue);
          mine.set(queue, { e: st.estimated_wait_seconds, sl: st.service_level, target: st.service_level_target });
        } catch {
          // no series for it this scrape
        }
      }
      out.set(account, mine);
    }
    return out;
  });
  /** A per-queue gauge from one of the reads; a queue whose value is null has no series. */
  const collectByQueue =
    <T>(
      gauge: Gauge<'queue' | 'account'>,
      read: () => Promise<Map<string, Map<string, T>>>,
      pick: (q: T) => number | null,
    ) =>
    async () => {
      const now = await read();
      gauge.reset();
      for (const [account, byQueue] of now)
        for (const [queue, q] of byQueue) {
          const v = pick(q);
          if (v !== null) gauge.labels({ queue, account }).set(v);
        }
    };
  type QueueGauge = Gauge<'queue' | 'account'> & { collect?: () => Promise<void> };
  const callers = metrics.queueCallers as QueueGauge;
  const oldest = metrics.queueOldestWait as QueueGauge;
  const estimated = metrics.queueEstimatedWait as QueueGauge;
  const level = metrics.queueServiceLevel as QueueGauge;
  callers.collect = collectByQueue(callers, readAll, (q) => q.waiting);
  oldest.collect = collectByQueue(oldest, readAll, (q) => q.oldest);
  estimated.collect = collectByQueue(estimated, readStats, (q) => q.e);
  level.collect = collectByQueue(level, readStats, (q) => q.sl);
  const target = metrics.queueServiceLevelTarget as QueueGauge;
  target.collect = collectByQueue(target, readStats, (q) => q.target);
  const held = metrics.callsOnHold as Gauge<'account'> & { collect?: () => Promise<void> };
  held.collect = async () => {
    for (const sources of accounts) {
      try {
        held.labels({ account: sources.account }).set(await sources.onHold());
      } catch {
        // keep this account's previous value
      }
    }
  };
}

/**
 * Fills holdq_jobs of every account from BullMQ at scrape time (prom-client's async collect),
 * never from a timer. A Redis outage leaves the last values instead of failing the scrape.
 */
export function observeJobCounts(
  metrics: Metrics,
  accounts: readonly { account: string; counts: () => Promise<Record<string, number>> }[],
) {
  const gauge = metrics.jobs as Gauge<'state' | 'account'> & { collect?: () => Promise<void> };
  gauge.collect = async () => {
    for (const { account, counts } of accounts) {
      try {
        const c = await counts();
        for (const state of JOB_STATES) {
          // BullMQ keeps prioritized jobs apart from waiting ones; both are waiting to us.
          const value = state === 'waiting' ? (c.waiting ?? 0) + (c.prioritized ?? 0) : (c[state] ?? 0);
          gauge.labels({ state, account }).set(value);
        }
      } catch {
        // keep the previous values: a scrape must not fail because Redis is down
      }
    }
  };
}

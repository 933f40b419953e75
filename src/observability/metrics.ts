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
      help: 'Transfer requests sent to Plivo, by HTTP status (or timeout, network_error).',
      labelNames: ['status'] as const,
      registers,
    }),
    plivoDuration: new Histogram({
      name: 'holdq_plivo_request_duration_seconds',
      help: 'Duration of Transfer requests to Plivo.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    plivoRateWait: new Histogram({
      name: 'holdq_plivo_rate_wait_seconds',
      help: "Time a Transfer request, ready to go, waited for its slot under PLIVO_MAX_RPS, by its intent's class.",
      labelNames: ['class'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    retries: new Counter({
      name: 'holdq_transfer_retries_total',
      help: 'Transfer attempts scheduled for retry, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    jobs: new Gauge({
      name: 'holdq_jobs',
      help: 'Intent jobs in the BullMQ queue, by state.',
      labelNames: ['state'] as const,
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
      help: 'Callers waiting in each queue.',
      labelNames: ['queue'] as const,
      registers,
    }),
    queueOldestWait: new Gauge({
      name: 'holdq_queue_oldest_wait_seconds',
      help: 'How long the longest-waiting caller of each queue has waited.',
      labelNames: ['queue'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'holdq_queue_wait_seconds',
      help: 'Time callers spent in a queue, by how they left it (bridged, overflow, abandoned).',
      labelNames: ['queue', 'outcome'] as const,
      buckets: [1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600],
      registers,
    }),
    callsOnHold: new Gauge({
      name: 'holdq_calls_on_hold',
      help: 'Calls on hold now.',
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
      help: '1 when transfers go to the built-in Plivo simulator instead of Plivo.',
      registers,
    }),
  };
  for (const type of INTENT_TYPES) m.intentsReceived.labels(type).inc(0);
  const queueLabels = createQueueLabels(
    opts.queueLabels?.configured ?? [],
    opts.queueLabels?.max ?? DEFAULT_METRICS_MAX_QUEUES,
  );
  return {
    ...m,
    queueLabels,
    /** The wait histogram's series for a queue, under its bounded label. */
    queueWaitFor: (queue: string, outcome: QueueLeaveOutcome) => m.queueWait.labels(queueLabels.label(queue), outcome),
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

export type Metrics = ReturnType<typeof createMetrics>;

export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

export interface StateSources {
  jobCounts(): Promise<Record<string, number>>;
  /** Every queue with callers now. */
  queues(): Promise<{ name: string; waiting: number; oldest_wait_seconds: number }[]>;
  /** Which of these queue names holdq still knows. */
  known(names: readonly string[]): Promise<boolean[]>;
  onHold(): Promise<number>;
}

/**
 * Fills the point-in-time gauges (jobs, queues, holds) from Redis at scrape time
 * (prom-client's async collect), never from a timer. A Redis outage leaves the
 * last values instead of failing the scrape. Queue series carry bounded labels: configured
 * queues always (0 when empty), others as createQueueLabels gives them, the busiest first.
 */
export function observeState(metrics: Metrics, sources: StateSources) {
  observeJobCounts(metrics, () => sources.jobCounts());
  // Both queue gauges are collected in one scrape; they share one read of Redis.
  let read: { at: number; value: Promise<Map<string, { waiting: number; oldest: number }>> } | null = null;
  const labels = metrics.queueLabels;
  async function byLabel() {
    const busy = (await sources.queues()).sort((a, b) => b.waiting - a.waiting);
    const admitted = labels.admitted();
    const known = admitted.length > 0 ? await sources.known(admitted) : [];
    const forgotten = admitted.filter((_, i) => !known[i]);
    labels.release(forgotten);
    for (const name of forgotten) for (const outcome of QUEUE_LEAVE_OUTCOMES) metrics.queueWait.remove(name, outcome);
    const out = new Map<string, { waiting: number; oldest: number }>();
    for (const name of labels.configured()) out.set(name, { waiting: 0, oldest: 0 });
    for (const q of busy) {
      const label = labels.label(q.name);
      const sum = out.get(label) ?? { waiting: 0, oldest: 0 };
      out.set(label, { waiting: sum.waiting + q.waiting, oldest: Math.max(sum.oldest, q.oldest_wait_seconds) });
    }
    return out;
  }
  const queues = () => {
    if (!read || Date.now() - read.at > 250) read = { at: Date.now(), value: byLabel() };
    return read.value;
  };
  const callers = metrics.queueCallers as Gauge<'queue'> & { collect?: () => Promise<void> };
  const oldest = metrics.queueOldestWait as Gauge<'queue'> & { collect?: () => Promise<void> };
  callers.collect = async () => {
    try {
      const now = await queues();
      callers.reset();
      for (const [label, q] of now) callers.labels(label).set(q.waiting);
    } catch {
      // keep the previous values
    }
  };
  oldest.collect = async () => {
    try {
      const now = await queues();
      oldest.reset();
      for (const [label, q] of now) oldest.labels(label).set(q.oldest);
    } catch {
      // keep the previous values
    }
  };
  const held = metrics.callsOnHold as Gauge & { collect?: () => Promise<void> };
  held.collect = async () => {
    try {
      held.set(await sources.onHold());
    } catch {
      // keep the previous value
    }
  };
}

/**
 * Fills holdq_jobs from BullMQ at scrape time (prom-client's async collect),
 * never from a timer. A Redis outage leaves the last values instead of failing the scrape.
 */
export function observeJobCounts(metrics: Metrics, counts: () => Promise<Record<string, number>>) {
  const gauge = metrics.jobs as Gauge<'state'> & { collect?: () => Promise<void> };
  gauge.collect = async () => {
    try {
      const c = await counts();
      for (const state of JOB_STATES) {
        // BullMQ keeps prioritized jobs apart from waiting ones; both are waiting to us.
        const value = state === 'waiting' ? (c.waiting ?? 0) + (c.prioritized ?? 0) : (c[state] ?? 0);
        gauge.labels(state).set(value);
      }
    } catch {
      // keep the previous values: a scrape must not fail because Redis is down
    }
  };
}

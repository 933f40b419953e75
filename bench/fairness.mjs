// The fairness scenario of `npm run bench` ("a person's hold must not wait behind a bulk
// burst", issue 15): a `bulk` client bursts intents (half hold, half transfer, each on a call
// of its own) while a `desk` client posts two holds a second, each on a call of its own, from
// 3 s after the burst began. Both pipelines keep under Plivo's rate: holdq with
// PLIVO_MAX_RPS, the bare one with BullMQ's own limiter (one FIFO line for every client).
// The fake Plivo enforces Plivo's account limit (300 requests in any 5 s) and answers 429
// beyond it.
//
// What is counted, the same way on both sides: a "transfer" is one request the fake Plivo
// received on its Transfer endpoint (a refused one included). Both a hold (legs aleg, the
// default) and a transfer (legs aleg) are one such request in holdq (planTransfers in
// src/domain/transfers.ts; a hold does not depend on what holdq knows of the call) and one in
// the bare worker (one POST per job, no retry), so every intent makes one transfer unless a
// 429 makes holdq send it again. A desk hold's wait is from its POST leaving the client to
// the fake Plivo receiving the first transfer of its call that it accepted (202), matched by
// call UUID. Every loop is bounded in count and time.
import { startFakePlivo } from './fake-plivo.mjs';
import { maxInAnyWindow, peakRssMiB, percentile, round2, sleep, waitFor } from './lib.mjs';

/** The scenario as issue 15 defines it; `--quick` halves the burst and the desk's 20 s. */
export function fairnessLoadShape(quick) {
  return {
    bulk: quick ? 600 : 1200,
    burstMs: 2000,
    deskPerSecond: 2,
    deskSeconds: quick ? 10 : 20,
    deskStartMs: 3000,
    /** PLIVO_MAX_RPS of holdq and the BullMQ limiter of the baseline worker (per 1000 ms). */
    maxRps: 30,
    /** Plivo's own account limit, enforced by the fake: 300 requests in any 5 s. */
    plivoLimit: { max: 300, windowMs: 5000 },
  };
}

const BULK_KEY = 'bench-bulk-secret-0123456789';
const DESK_KEY = 'bench-desk-secret-0123456789';

/** Every POST of the scenario, in the order they are due: [dueMs from the start, client, call, body]. */
function plan(shape, publicBaseUrl) {
  const events = [];
  for (let i = 0; i < shape.bulk; i++) {
    const call = `bulk-${i}`;
    const body =
      i % 2 === 0
        ? { type: 'hold', call_uuid: call }
        : { type: 'transfer', call_uuid: call, legs: 'aleg', aleg_url: `${publicBaseUrl}/plivo/xml/hold` };
    events.push([(i * shape.burstMs) / shape.bulk, 'bulk', call, body]);
  }
  for (let k = 0; k < shape.deskPerSecond * shape.deskSeconds; k++) {
    const call = `desk-${k}`;
    events.push([
      shape.deskStartMs + (k * 1000) / shape.deskPerSecond,
      'desk',
      call,
      { type: 'hold', call_uuid: call },
    ]);
  }
  return events.sort((a, b) => a[0] - b[0]);
}

/**
 * Posts the scenario's intents to `url` on time (`headers[client]` per client). Returns each
 * call's send time (ms on performance.timeOrigin's clock, the fake Plivo's too), the answers'
 * statuses per client, and how late the plan ran at worst. Throws if it falls 10 s behind.
 */
async function postPlan(events, url, headers) {
  const sent = new Map();
  const statuses = { bulk: {}, desk: {} };
  const inflight = [];
  let worstLagMs = 0;
  const started = performance.now();
  for (let next = 0; next < events.length;) {
    const elapsed = performance.now() - started;
    if (elapsed - events[next][0] > 10_000) throw new Error('fairness: the load fell 10 s behind its plan');
    for (; next < events.length && events[next][0] <= elapsed; next++) {
      const [due, client, call, body] = events[next];
      worstLagMs = Math.max(worstLagMs, elapsed - due);
      sent.set(call, performance.timeOrigin + performance.now());
      inflight.push(
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers[client] },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        })
          .then(async (r) => (await r.arrayBuffer(), r.status))
          .catch(() => 'error')
          .then((s) => (statuses[client][s] = (statuses[client][s] ?? 0) + 1)),
      );
    }
    if (next < events.length) await sleep(Math.max(1, events[next][0] - (performance.now() - started)));
  }
  await Promise.all(inflight);
  return { sent, statuses, worstLagMs: Math.round(worstLagMs) };
}

/** The first accepted (202) transfer of every call at the fake Plivo: call → receive time. */
function acceptedAt(received) {
  const at = new Map();
  for (const [t, call, status] of received) if (status === 202 && !(at.get(call) <= t)) at.set(call, t);
  return at;
}

/** The scenario's figures, from what the fake Plivo received and when each intent was sent. */
function readFairness(shape, received, sent) {
  const accepted = acceptedAt(received);
  const calls = [...sent.keys()];
  const desk = calls.filter((c) => c.startsWith('desk-'));
  const bulk = calls.filter((c) => c.startsWith('bulk-'));
  // A desk hold that never reached Plivo waited for ever: it sorts last (and fails the target).
  const deskWait = desk.map((c) => (accepted.get(c) ?? Infinity) - sent.get(c)).sort((a, b) => a - b);
  const times = received.map(([t]) => t);
  const first = Math.min(...times);
  // The drain: from the first transfer Plivo received to the last bulk one it accepted. Ideal:
  // every transfer Plivo received in that time (desk holds included) at exactly the rate.
  const bulkMissing = bulk.filter((c) => !accepted.has(c)).length;
  const lastBulk = bulkMissing > 0 ? Infinity : Math.max(...bulk.map((c) => accepted.get(c)));
  const drainS = (lastBulk - first) / 1000;
  const transfersInDrain = times.filter((t) => t <= lastBulk).length;
  const idealS = transfersInDrain / shape.maxRps;
  const ms = (x) => (Number.isFinite(x) ? Math.round(x) : null);
  return {
    desk_holds: desk.length,
    desk_missing: desk.filter((c) => !accepted.has(c)).length,
    desk_p50_ms: ms(percentile(deskWait, 50)),
    desk_p99_ms: ms(percentile(deskWait, 99)),
    desk_max_ms: ms(deskWait.at(-1)),
    bulk_intents: bulk.length,
    bulk_missing: bulkMissing,
    transfers: received.length,
    max_in_any_1s_window: maxInAnyWindow(times, 1000),
    max_in_any_5s_window: maxInAnyWindow(times, 5000),
    http_429: received.filter(([, , s]) => s === 429).length,
    drain_s: Number.isFinite(drainS) ? Math.round(drainS * 10) / 10 : null,
    transfers_in_drain: transfersInDrain,
    ideal_drain_s: Math.round(idealS * 10) / 10,
    drain_vs_ideal: Number.isFinite(drainS) ? round2(drainS / idealS) : null,
    /** Transfers the fake received in each second from the first one: where a drain lost time. */
    per_second: times.reduce(
      (n, t) => ((n[Math.floor((t - first) / 1000)] += 1), n),
      Array(Math.ceil((Math.max(...times) - first + 1) / 1000)).fill(0),
    ),
  };
}

/**
 * One side of the scenario: `who` is 'holdq' (API and worker from the build, PLIVO_MAX_RPS,
 * two API keys) or 'baseline' (bare API and worker, BullMQ's limiter at the same rate).
 * Waits for every call's transfer, or until twice the ideal drain and 10 s more have passed
 * since the load began (what is missing then is reported, not waited for).
 */
export async function fairnessSide(who, sides, shape) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo({ limit: shape.plivoLimit });
    let api;
    let worker;
    try {
      if (who === 'holdq') {
        const env = await sides.holdqEnv(redis, plivo, {
          PLIVO_MAX_RPS: String(shape.maxRps),
          API_KEYS: `bulk:${BULK_KEY},desk:${DESK_KEY}`,
        });
        worker = await sides.holdqWorker(env);
        api = await sides.holdqApi(env, {});
      } else {
        worker = await sides.baselineWorker(redis, plivo, {
          BASELINE_LIMITER_MAX: String(shape.maxRps),
          BASELINE_LIMITER_MS: '1000',
        });
        api = await sides.baselineApi(redis);
      }
      const events = plan(shape, api.url);
      const headers = {
        bulk: { authorization: `Bearer ${BULK_KEY}` },
        desk: { authorization: `Bearer ${DESK_KEY}` },
      };
      const started = performance.now();
      const idealMs = (events.length / shape.maxRps) * 1000;
      const load = await postPlan(events, `${api.url}${api.path}`, headers);
      const deadline = started + 2 * idealMs + 10_000;
      const calls = [...load.sent.keys()];
      let drained = true;
      try {
        await waitFor(
          () => {
            const accepted = acceptedAt(plivo.received);
            return calls.every((c) => accepted.has(c));
          },
          { timeoutMs: Math.max(0, deadline - performance.now()), intervalMs: 250, what: 'every transfer' },
        );
      } catch {
        drained = false;
      }
      const answers = Object.fromEntries(
        Object.entries(load.statuses).map(([client, counts]) => [
          client,
          { counts, non2xx: Object.entries(counts).reduce((n, [s, c]) => n + (/^2\d\d$/.test(s) ? 0 : c), 0) },
        ]),
      );
      return {
        ...readFairness(shape, plivo.received, load.sent),
        peak_rss_mib: { api: peakRssMiB(api.pid), worker: peakRssMiB(worker.pid) },
        drained_within_timeout: drained,
        answers,
        load_worst_lag_ms: load.worstLagMs,
        side_s: Math.round((performance.now() - started) / 100) / 10,
      };
    } finally {
      await api?.kill();
      await worker?.kill();
      await plivo.stop();
    }
  });
}

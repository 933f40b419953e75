// The estimated-wait scenario of `npm run bench -- --only estimate` (SPEC: "the estimate must be
// better than what Asterisk announces"): a small contact center against a real holdq (api and
// worker as separate processes, one Redis, a fake Plivo answering in 0–20 ms).
//
// Callers arrive as a Poisson process (seeded: the same arrivals every run) to queue `support`,
// each with an `enqueue` intent, first below the agents' capacity, then above it; then arrivals
// stop and the queue drains. A fifth of them have priority 5, the rest 0. Agents loop: a
// `dequeue` intent on a call of their own (a fresh agent call per dequeue), wait for it to
// finish; if it bridged a caller, "handle" it for a lognormal time (mean 8 s, bounded), if the
// queue was empty (`queue_empty`), try again after half a second. One agent leaves in the middle
// of the overload (after its current call) and comes back later.
//
// What is compared, from ONE event stream (`GET /v1/events?queue=support`) read for the whole
// run, in the stream's order: a caller's estimate is the `estimated_wait_seconds` of its
// `queue.joined` event (holdq's), its actual wait the `wait_seconds` of its `queue.left` with
// reason `bridged` (callers not bridged by the end are counted, not judged). Two naive
// estimators are computed from the same events, as each would have stood at that caller's
// `queue.joined`: Asterisk's announce-holdtime (holdtime = (3·holdtime + wait)/4 at every
// bridged caller, the same figure for every position; seeded with the first bridged caller's
// wait rather than Asterisk's 0, which is kinder to it, and no estimate before that), and
// "position × the mean of the last 5 intervals between consecutive bridged callers" (no estimate
// before two). Every loop is bounded in count and time; every process is ours, on loopback.
/* global AbortController */
import { setTimeout as timer } from 'node:timers/promises';
import { startFakePlivo } from './fake-plivo.mjs';
import { BENCH_KEY, peakRssMiB, round2, sleep, waitFor } from './lib.mjs';
import { idMs, openSse } from './sse.mjs';

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The scenario; `--quick` shortens both phases (and moves the agent's absence with them). */
export function estimateShape(quick) {
  const phases = quick
    ? [
        { name: 'under', perSecond: 0.35, seconds: 25 },
        { name: 'over', perSecond: 0.7, seconds: 30 },
      ]
    : [
        { name: 'under', perSecond: 0.35, seconds: 60 },
        { name: 'over', perSecond: 0.7, seconds: 60 },
      ];
  return {
    seed: 15,
    queue: 'support',
    agents: 4,
    /** Lognormal handle time: its mean, the sigma of its log, bounds (s). */
    handle: { meanS: 8, sigma: 0.6, minS: 1, maxS: 30 },
    phases,
    highPriority: { share: 0.2, priority: 5 },
    /** Agent `agent` stops taking callers at `leaveS` (after its current call) and is back at `backS`. */
    away: quick ? { agent: 4, leaveS: 35, backS: 50 } : { agent: 4, leaveS: 90, backS: 130 },
    emptyRetryMs: 500,
    /** Coverage is judged for callers who join after this many seconds. */
    warmupS: 20,
    lastIntervals: 5,
    drainTimeoutS: quick ? 45 : 90,
    plivo: { latencyMs: 0, jitterMs: 20 },
  };
}

/** Arrival times (s from the start) and priorities, from the seed alone. */
function arrivals(shape) {
  const rnd = mulberry32(shape.seed);
  const prio = mulberry32(shape.seed ^ 0x9e3779b9);
  const out = [];
  let start = 0;
  shape.phases.forEach((phase, p) => {
    const end = start + phase.seconds;
    // Poisson: exponential gaps; memoryless, so each phase starts afresh at its start.
    for (let t = start - Math.log(1 - rnd()) / phase.perSecond; t < end; t -= Math.log(1 - rnd()) / phase.perSecond) {
      out.push({ t, phase: p, priority: prio() < shape.highPriority.share ? shape.highPriority.priority : 0 });
    }
    start = end;
  });
  return out;
}

/** A lognormal handle time (s) with the shape's mean, bounded, from `rnd`. */
function handleTime(rnd, { meanS, sigma, minS, maxS }) {
  const mu = Math.log(meanS) - (sigma * sigma) / 2;
  const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return Math.min(maxS, Math.max(minS, Math.exp(mu + sigma * z)));
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const r1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);
const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

const ESTIMATORS = ['holdq', 'asterisk', 'interval'];

/** MAE, bias and coverage of each estimator over `rows` (bridged callers). */
function summarize(rows) {
  const out = { callers: rows.length };
  for (const key of ESTIMATORS) {
    const withEst = rows.filter((r) => r[key] !== null);
    const err = withEst.map((r) => r[key] - r.wait);
    out[key] = {
      with_estimate: withEst.length,
      coverage: rows.length ? r3(withEst.length / rows.length) : null,
      mae_s: withEst.length ? round2(mean(err.map(Math.abs))) : null,
      bias_s: withEst.length ? round2(mean(err)) : null,
    };
  }
  return out;
}

/** MAE of each estimator over the callers every estimator covers: like for like. */
function commonSet(rows) {
  const common = rows.filter((r) => ESTIMATORS.every((k) => r[k] !== null));
  const out = { callers: common.length };
  for (const key of ESTIMATORS)
    out[key] = common.length ? round2(mean(common.map((r) => Math.abs(r[key] - r.wait)))) : null;
  return out;
}

/**
 * Runs the scenario once against holdq (`sides` from sides.mjs) and returns its figures and every
 * caller's raw data.
 */
export async function estimateSide(sides, shape) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo(shape.plivo);
    const env = await sides.holdqEnv(redis, plivo);
    let api;
    let worker;
    let stream;
    const stop = new AbortController();
    const nap = (ms) => timer(ms, undefined, { signal: stop.signal }).catch(() => {});
    try {
      worker = await sides.holdqWorker(env);
      api = await sides.holdqApi(env);
      const base = api.url;
      const auth = { authorization: `Bearer ${BENCH_KEY}` };
      const post = async (body) => {
        const r = await fetch(`${base}/v1/intents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        return { status: r.status, body: await r.json().catch(() => null) };
      };
      const getJson = async (path) => {
        const r = await fetch(`${base}${path}`, { headers: auth, signal: AbortSignal.timeout(15_000) });
        return r.json();
      };

      // ---- the one event stream, and what it tells, in its order ----
      const callers = new Map(); // call → caller record
      const finished = new Map(); // intent id → { status, error }
      const counts = {};
      let lastId = null;
      let outOfOrder = 0;
      let unknownJoins = 0;
      let holdtime = null; // Asterisk's
      const bridgedTimes = []; // ms of each bridged queue.left
      const problems = [];
      const onEvent = ({ id, event, data }) => {
        counts[event] = (counts[event] ?? 0) + 1;
        if (lastId !== null && idMs(id) < idMs(lastId)) outOfOrder++;
        lastId = id;
        let e;
        try {
          e = JSON.parse(data);
        } catch {
          problems.push(`unparsable event ${id}`);
          return;
        }
        if (event === 'queue.joined') {
          const c = callers.get(e.call_uuid);
          if (!c) return void unknownJoins++;
          if (c.joinedMs !== null) return void problems.push(`${e.call_uuid} joined twice`);
          c.joinedMs = idMs(id);
          c.position = e.position;
          c.holdq = e.estimated_wait_seconds ?? null;
          c.asterisk = holdtime;
          // Not an estimator: how long the line had stood still (since the last bridged caller), for reading holdq's errors.
          c.sinceTake = bridgedTimes.length ? (idMs(id) - bridgedTimes.at(-1)) / 1000 : null;
          const iv = bridgedTimes.slice(-(shape.lastIntervals + 1));
          c.interval = iv.length >= 2 ? ((iv.at(-1) - iv[0]) / (iv.length - 1) / 1000) * e.position : null;
        } else if (event === 'queue.left') {
          const c = callers.get(e.call_uuid);
          if (!c) return;
          if (c.left !== null) return void problems.push(`${e.call_uuid} left twice`);
          c.left = e.reason;
          c.leftMs = idMs(id);
          c.wait = e.wait_seconds;
          if (e.reason === 'bridged') {
            holdtime = holdtime === null ? e.wait_seconds : (3 * holdtime + e.wait_seconds) / 4;
            bridgedTimes.push(idMs(id));
          }
        } else if (event === 'intent.completed' || event === 'intent.failed' || event === 'intent.superseded') {
          finished.set(e.intent_id, { status: event.slice('intent.'.length), error: e.error ?? null });
        }
      };
      stream = await openSse(`${base}/v1/events?queue=${shape.queue}`, { headers: auth, onEvent });
      if (stream.status !== 200) throw new Error(`estimate: GET /v1/events answered ${stream.status}: ${stream.body}`);
      await sleep(500); // the API's reader is live before the first change

      // ---- agents ----
      const t0 = Date.now();
      const agentStats = [];
      let polled = 0;
      const outcomeOf = async (id) => {
        const deadline = Date.now() + 30_000;
        let nextPoll = Date.now() + 1000;
        while (Date.now() < deadline) {
          const f = finished.get(id);
          if (f) return f;
          if (Date.now() >= nextPoll) {
            const r = await getJson(`/v1/intents/${id}`).catch(() => null);
            if (r && ['completed', 'failed', 'superseded'].includes(r.status)) {
              polled++;
              return { status: r.status, error: r.error ?? null };
            }
            nextPoll = Date.now() + 1000;
          }
          await sleep(20);
        }
        return { status: 'timeout', error: null };
      };
      const agent = async (n) => {
        const rnd = mulberry32(shape.seed * 7919 + n);
        const s = { agent: n, served: 0, empty: 0, other: {}, handled_s: 0 };
        agentStats.push(s);
        const away = shape.away.agent === n ? shape.away : null;
        for (let k = 0; !stop.signal.aborted && k < 10_000; k++) {
          const t = (Date.now() - t0) / 1000;
          if (away && t >= away.leaveS && t < away.backS) {
            await nap(Math.min(200, (away.backS - t) * 1000));
            continue;
          }
          const r = await post({ type: 'dequeue', queue: shape.queue, agent_call_uuid: `agent-${n}-${k}` }).catch(
            (err) => ({ status: String(err.name), body: null }),
          );
          if (r.status !== 202 || !r.body?.id) {
            s.other[`http_${r.status}`] = (s.other[`http_${r.status}`] ?? 0) + 1;
            await nap(shape.emptyRetryMs);
            continue;
          }
          const out = await outcomeOf(r.body.id);
          if (out.status === 'completed') {
            s.served++;
            const h = handleTime(rnd, shape.handle);
            s.handled_s += h;
            await nap(h * 1000);
          } else if (out.status === 'failed' && out.error?.code === 'queue_empty') {
            s.empty++;
            await nap(shape.emptyRetryMs);
          } else {
            const why = `${out.status}${out.error?.code ? `:${out.error.code}` : ''}`;
            s.other[why] = (s.other[why] ?? 0) + 1;
            await nap(shape.emptyRetryMs);
          }
        }
      };
      const agents = Array.from({ length: shape.agents }, (_, i) => agent(i + 1));

      // ---- callers, on time ----
      const plan = arrivals(shape);
      const enqueueAnswers = {};
      const inflight = [];
      let worstLagMs = 0;
      for (const [i, a] of plan.entries()) {
        const wait = t0 + a.t * 1000 - Date.now();
        if (wait > 0) await sleep(wait);
        worstLagMs = Math.max(worstLagMs, Date.now() - (t0 + a.t * 1000));
        const call = `caller-${i}`;
        callers.set(call, {
          call,
          priority: a.priority,
          phase: shape.phases[a.phase].name,
          arriveMs: t0 + a.t * 1000,
          status: null,
          joinedMs: null,
          position: null,
          holdq: null,
          asterisk: null,
          interval: null,
          sinceTake: null,
          left: null,
          leftMs: null,
          wait: null,
        });
        inflight.push(
          post({
            type: 'enqueue',
            call_uuid: call,
            queue: shape.queue,
            ...(a.priority ? { priority: a.priority } : {}),
          })
            .catch((err) => ({ status: String(err.name) }))
            .then((r) => {
              callers.get(call).status = r.status;
              enqueueAnswers[r.status] = (enqueueAnswers[r.status] ?? 0) + 1;
            }),
        );
      }
      await Promise.all(inflight);
      const arrivalsEndS = (Date.now() - t0) / 1000;

      // ---- drain: every accepted caller left the queue, or the timeout ----
      const accepted = [...callers.values()].filter((c) => c.status === 202);
      let drained = true;
      try {
        await waitFor(() => accepted.every((c) => c.left !== null), {
          timeoutMs: shape.drainTimeoutS * 1000,
          intervalMs: 200,
          what: 'the queue to drain',
        });
      } catch {
        drained = false;
      }
      const scenarioS = (Date.now() - t0) / 1000;
      stop.abort();
      await Promise.all(agents);
      await sleep(300); // the last finish events
      const queueAtEnd = await getJson(`/v1/queues/${shape.queue}`).catch((err) => ({ error: String(err) }));
      if (stream.ended) problems.push('the event stream ended before the run did');

      // ---- figures ----
      const all = [...callers.values()];
      const joined = all.filter((c) => c.joinedMs !== null);
      const bridged = joined
        .filter((c) => c.left === 'bridged')
        .map((c) => ({ ...c, joinS: (c.joinedMs - t0) / 1000 }));
      const afterWarmup = bridged.filter((c) => c.joinS >= shape.warmupS);
      const byPhase = Object.fromEntries(
        shape.phases.map((p) => [p.name, summarize(bridged.filter((c) => c.phase === p.name))]),
      );
      const byPriority = Object.fromEntries(
        [0, shape.highPriority.priority].map((p) => [
          `priority_${p}`,
          summarize(bridged.filter((c) => c.priority === p)),
        ]),
      );
      const overall = summarize(bridged);
      const ratio = (k) =>
        overall[k].mae_s !== null && overall.asterisk.mae_s ? round2(overall[k].mae_s / overall.asterisk.mae_s) : null;
      const served = agentStats.reduce((n, s) => n + s.served, 0);
      const bridgedEvents = all.filter((c) => c.left === 'bridged').length;
      if (served !== bridgedEvents)
        problems.push(`${served} dequeues completed but ${bridgedEvents} queue.left (bridged) events for our callers`);
      const joinedNot = accepted.filter((c) => c.joinedMs === null).length;
      if (joinedNot > 0) problems.push(`${joinedNot} accepted enqueues never had a queue.joined event`);
      if (outOfOrder > 0) problems.push(`${outOfOrder} events arrived with a smaller id than the one before`);
      if (polled > 0)
        problems.push(`${polled} agent intents were found finished by polling before (or without) their event`);
      const rel = (ms) => (ms === null ? null : r1((ms - t0) / 1000));
      return {
        callers_posted: all.length,
        enqueue_answers: enqueueAnswers,
        joined: joined.length,
        bridged: bridged.length,
        never_bridged: accepted.length - bridgedEvents,
        left_otherwise: joined.filter((c) => c.left !== null && c.left !== 'bridged').length,
        drained_within_timeout: drained,
        arrivals_end_s: r1(arrivalsEndS),
        scenario_s: r1(scenarioS),
        load_worst_lag_ms: Math.round(worstLagMs),
        overall,
        common_set: commonSet(bridged),
        after_warmup: summarize(afterWarmup),
        by_phase: byPhase,
        by_priority: byPriority,
        /** holdq's five largest errors: where it went wrong. */
        holdq_worst: bridged
          .filter((c) => c.holdq !== null)
          .sort((a, b) => Math.abs(b.holdq - b.wait) - Math.abs(a.holdq - a.wait))
          .slice(0, 5)
          .map((c) => ({
            call: c.call,
            phase: c.phase,
            priority: c.priority,
            join_s: r1(c.joinS),
            position: c.position,
            holdq_s: c.holdq,
            wait_s: c.wait,
            asterisk_s: r1(c.asterisk),
            interval_s: r1(c.interval),
            since_last_bridged_s: r1(c.sinceTake),
          })),
        holdq_vs_asterisk: ratio('holdq'),
        interval_vs_asterisk: ratio('interval'),
        mean_wait_s: Object.fromEntries(
          shape.phases.map((p) => [p.name, r1(mean(bridged.filter((c) => c.phase === p.name).map((c) => c.wait)))]),
        ),
        agents: agentStats.map((s) => ({ ...s, handled_s: Math.round(s.handled_s) })),
        events_seen: counts,
        events_of_unknown_callers_joined: unknownJoins,
        queue_at_end: queueAtEnd?.error
          ? queueAtEnd
          : {
              waiting: queueAtEnd.waiting,
              estimated_wait_seconds: queueAtEnd.estimated_wait_seconds,
              service_level: queueAtEnd.service_level,
            },
        problems,
        peak_rss_mib: { api: peakRssMiB(api.pid), worker: peakRssMiB(worker.pid) },
        /** Every caller: times in s from the start; estimates and wait in s; left: why it left (null: still waiting). */
        callers: {
          columns: [
            'call',
            'priority',
            'phase',
            'arrive_s',
            'join_s',
            'position',
            'wait_s',
            'holdq_s',
            'asterisk_s',
            'interval_s',
            'since_last_bridged_s',
            'left',
          ],
          rows: all.map((c) => [
            c.call,
            c.priority,
            c.phase,
            rel(c.arriveMs),
            rel(c.joinedMs),
            c.position,
            c.wait,
            c.holdq,
            r1(c.asterisk),
            r1(c.interval),
            r1(c.sinceTake),
            c.left,
          ]),
        },
      };
    } finally {
      stop.abort();
      stream?.close();
      await api?.kill();
      await worker?.kill();
      await plivo.stop();
    }
  });
}

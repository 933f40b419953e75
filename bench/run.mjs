// npm run bench: measures holdq as deployed (api and worker as separate processes, Redis
// with AOF as shipped, a fast fake Plivo) against same-run baselines (a bare Express app
// that only validates and calls queue.add; a bare BullMQ worker that only POSTs with got),
// both sides with the same node flags. Prints the report (markdown) and PASS/FAIL per target
// on stdout; `--write FILE` also writes the report to FILE (BENCHMARKS.md is written so, and
// by nothing else). Loopback only; every run is bounded in requests and time.
//   --only accept,e2e,worker,rate,fairness,estimate,events   some measurements (default: all)
//   --quick        1 round, shorter loads, a smaller fairness burst, shorter estimate phases
//   --rounds N     interleaved baseline/holdq rounds per measurement (odd: the median is a real round)
//   --holdq-dir D  the holdq build to measure (a checkout with dist/, or a dist/; default: this checkout)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { estimateShape, estimateSide } from './estimate.mjs';
import { eventsShape, eventsSide } from './events.mjs';
import { startFakePlivo } from './fake-plivo.mjs';
import { fairnessLoadShape, fairnessSide } from './fairness.mjs';
import {
  cpuMs,
  IMAGE_NODE_OPTIONS,
  maxInAnyWindow,
  medianRound,
  peakRssMiB,
  percentile,
  postIntent,
  preload,
  round2,
  sleep,
  steady,
  waitFor,
} from './lib.mjs';
import { renderReport } from './report.mjs';
import { benchSides, holdqMain } from './sides.mjs';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    write: { type: 'string' },
    'holdq-dir': { type: 'string', default: repoRoot },
  },
});
const Q = opts.quick;
const MEASUREMENTS = ['accept', 'e2e', 'worker', 'rate', 'fairness', 'estimate', 'events'];
const chosen = opts.only ? opts.only.split(',') : MEASUREMENTS;
for (const name of chosen)
  if (!MEASUREMENTS.includes(name)) throw new Error(`--only: no measurement ${name} (${MEASUREMENTS})`);
/** Interleaved baseline/holdq rounds per measurement; a ratio is the median of the rounds' ratios. */
const ROUNDS = Number(opts.rounds ?? (Q ? 1 : 3));
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS % 2 === 0) {
  throw new Error(`--rounds ${opts.rounds}: an odd number of rounds, so the median ratio is one real round`);
}
const APPENDFSYNC = process.env.BENCH_APPENDFSYNC ?? 'always';
const main = holdqMain(opts['holdq-dir']);
/** The node flags of every process under test, holdq's and the baselines' alike: the image's. */
const NODE_FLAGS = IMAGE_NODE_OPTIONS;
const logDir = mkdtempSync(join(os.tmpdir(), 'holdq-bench-'));
const sides = benchSides({ logDir, main, nodeOptions: NODE_FLAGS, appendfsync: APPENDFSYNC });

async function redisUsedMemory(port) {
  const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'memory'], { encoding: 'utf8' });
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** Where an API (holdq's or the baseline's) takes intents. */
const intentsUrl = (api) => `${api.url}${api.path}`;

/** Round i of a measurement: every side once, in an order that rotates from round to round, so a drift of the machine favours none. */
async function runRound(i, names, run) {
  const round = {};
  for (let k = 0; k < names.length; k++) {
    const side = names[(i + k) % names.length];
    round[side] = await run(side);
  }
  return round;
}
const pairRound = (i, run) => runRound(i, ['baseline', 'holdq'], run);

// ---------- 1. accept ----------

/** 50 connections of POST /v1/intents for `seconds`; throughput counts 2xx answers only. */
async function cannon(api, seconds, prefix) {
  let n = 0;
  const r = await autocannon({
    url: intentsUrl(api),
    connections: 50,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...api.headers },
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ type: 'hold', call_uuid: `${prefix}-${n++ % 5000}` }),
        }),
      },
    ],
  });
  return {
    rps: Math.round(r['2xx'] / r.duration),
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    seconds: r.duration,
  };
}

/** One API under the flood; `side` is baseline, holdq, or holdq_uncapped (holdq with Node's default flags). */
async function acceptOnce(side, seconds) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo();
    const api =
      side === 'baseline'
        ? await sides.baselineApi(redis)
        : await sides.holdqApi(
            await sides.holdqEnv(redis, plivo, side === 'holdq_uncapped' ? { NODE_OPTIONS: '' } : {}),
          );
    try {
      await cannon(api, 2, 'warm'); // JIT and connection warm-up, not measured
      const cpu0 = cpuMs(api.pid) + cpuMs(redis.pid);
      const r = await cannon(api, seconds, side);
      // CPU per accepted intent of the API and its Redis together (holdq's accept does part of its work in Redis).
      const cpuUs = Math.round(((cpuMs(api.pid) + cpuMs(redis.pid) - cpu0) * 1000) / Math.max(1, r.ok));
      return { ...r, cpu_us_per_intent: cpuUs, peak_rss_mib: peakRssMiB(api.pid) };
    } finally {
      await api.kill();
      await plivo.stop();
    }
  });
}

async function accept() {
  const seconds = Q ? 5 : 15;
  const rounds = [];
  // holdq with Node's default flags rides along in every round: the price of the image's heap cap.
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push(await runRound(i, ['baseline', 'holdq', 'holdq_uncapped'], (side) => acceptOnce(side, seconds)));
  }
  const failed = rounds.flatMap((r) => Object.values(r)).reduce((n, x) => n + x.non2xx + x.errors, 0);
  return {
    seconds,
    connections: 50,
    rounds,
    non2xx_and_errors: failed,
    throughput: medianRound(rounds, (r) => r.holdq.rps / r.baseline.rps),
    // Intents per CPU-second (API + Redis), holdq/baseline: what each intent costs, less of the machine's drift in it.
    per_cpu: medianRound(rounds, (r) => r.baseline.cpu_us_per_intent / r.holdq.cpu_us_per_intent),
    heap_cap: medianRound(rounds, (r) => r.holdq.rps / r.holdq_uncapped.rps),
  };
}

// ---------- 2. end to end ----------

/** Waits until the fake Plivo has received a transfer for every call of `sent` (bounded). */
const allReceived = (plivo, sent, what) =>
  waitFor(
    () => {
      const calls = new Set(plivo.received.map(([, call]) => call));
      return [...sent.keys()].every((c) => calls.has(c));
    },
    { timeoutMs: 30_000, what },
  );

async function endToEndOnce(who, rate, seconds) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo();
    let api;
    let worker;
    try {
      if (who === 'holdq') {
        const env = await sides.holdqEnv(redis, plivo);
        worker = await sides.holdqWorker(env);
        api = await sides.holdqApi(env);
      } else {
        worker = await sides.baselineWorker(redis, plivo);
        api = await sides.baselineApi(redis);
      }
      // Warm-up, then measure from a clean fake: it is reset only once every warm-up transfer arrived.
      const [warm] = await steady([postIntent(intentsUrl(api), api.headers)], 50, 2, `warm-${who}`);
      await allReceived(plivo, warm, 'the warm-up transfers');
      plivo.reset();
      const [sent] = await steady([postIntent(intentsUrl(api), api.headers)], rate, seconds, who);
      await allReceived(plivo, sent, 'every transfer');
      const lat = plivo.received
        .map(([at, call]) => at - sent.get(call))
        .filter((x) => Number.isFinite(x))
        .sort((a, b) => a - b);
      const r1 = (x) => Math.round(x * 10) / 10;
      return {
        intents: sent.size,
        p50_ms: r1(percentile(lat, 50)),
        p95_ms: r1(percentile(lat, 95)),
        p99_ms: r1(percentile(lat, 99)),
        peak_rss_mib: { api: peakRssMiB(api.pid), worker: peakRssMiB(worker.pid) },
      };
    } finally {
      await api?.kill();
      await worker?.kill();
      await plivo.stop();
    }
  });
}

async function endToEnd() {
  const seconds = Q ? 5 : 15;
  const rate = 200;
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await pairRound(i, (who) => endToEndOnce(who, rate, seconds)));
  return {
    rate,
    seconds,
    rounds,
    p50: medianRound(rounds, (r) => r.holdq.p50_ms / r.baseline.p50_ms),
    p99: medianRound(rounds, (r) => r.holdq.p99_ms / r.baseline.p99_ms),
  };
}

// ---------- 3. worker ----------

async function workerOnce(who, n, latencyMs) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo({ latencyMs });
    let api;
    let worker;
    try {
      let env;
      if (who === 'holdq') {
        env = await sides.holdqEnv(redis, plivo);
        api = await sides.holdqApi(env);
      } else {
        api = await sides.baselineApi(redis);
      }
      const empty = await redisUsedMemory(redis.port);
      await preload(intentsUrl(api), api.headers, n, `${who}-${latencyMs}`);
      const started = performance.timeOrigin + performance.now();
      worker = who === 'holdq' ? await sides.holdqWorker(env) : await sides.baselineWorker(redis, plivo);
      // CPU of the worker and Redis from the first transfer to the last (the worker's start-up left out).
      let cpu0 = null;
      let cpu1 = null;
      await waitFor(
        () => {
          cpu0 ??= plivo.received.length > 0 ? cpuMs(worker.pid) + cpuMs(redis.pid) : null;
          if (plivo.received.length < n) return false;
          cpu1 = cpuMs(worker.pid) + cpuMs(redis.pid);
          return true;
        },
        { timeoutMs: 300_000, intervalMs: 20, what: `${n} transfers` },
      );
      const first = plivo.received[0][0];
      const last = plivo.received.at(-1)[0];
      const peak = peakRssMiB(worker.pid);
      let perIntentBytes = null;
      if (who === 'holdq') {
        await sleep(1000); // let the last records settle
        perIntentBytes = Math.round(((await redisUsedMemory(redis.port)) - empty) / n);
      }
      return {
        transfers: n,
        per_second: Math.round(n / ((last - first) / 1000)),
        from_start_s: Math.round((last - started) / 100) / 10,
        cpu_us_per_intent: Math.round(((cpu1 - cpu0) * 1000) / n),
        peak_rss_mib: peak,
        ...(perIntentBytes ? { redis_bytes_per_retained_intent: perIntentBytes } : {}),
      };
    } finally {
      await worker?.kill();
      await api?.kill();
      await plivo.stop();
    }
  });
}

/** The Plivo latencies the worker is measured at: 150 ms is judged (Plivo-like), 0 ms is the price of the guarantees. */
const WORKER_LATENCIES = [0, 150];

async function workerThroughput() {
  const n = Q ? 1000 : 5000;
  const out = { intents: n, latencies: WORKER_LATENCIES };
  for (const latencyMs of WORKER_LATENCIES) {
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await pairRound(i, (who) => workerOnce(who, n, latencyMs)));
    out[`${latencyMs}ms`] = {
      rounds,
      throughput: medianRound(rounds, (x) => x.holdq.per_second / x.baseline.per_second),
      per_cpu: medianRound(rounds, (x) => x.baseline.cpu_us_per_intent / x.holdq.cpu_us_per_intent),
    };
  }
  return out;
}

// ---------- 4. rate adherence ----------

async function rateAdherence() {
  const n = Q ? 600 : 3000;
  const maxRps = 60;
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo({ limitPerSecond: maxRps });
    const env = await sides.holdqEnv(redis, plivo, { PLIVO_MAX_RPS: String(maxRps) });
    let api;
    let worker;
    try {
      api = await sides.holdqApi(env);
      await preload(intentsUrl(api), api.headers, n, 'burst');
      worker = await sides.holdqWorker(env);
      await waitFor(() => plivo.received.filter(([, , s]) => s === 202).length >= n, {
        timeoutMs: 200_000,
        intervalMs: 200,
        what: 'the burst',
      });
    } finally {
      await worker?.kill();
      await api?.kill();
      await plivo.stop();
    }
    const times = plivo.received.map(([at]) => at);
    const drain = (times.at(-1) - times[0]) / 1000;
    const ideal = n / maxRps;
    return {
      burst: n,
      plivo_max_rps: maxRps,
      max_in_any_1s_window: maxInAnyWindow(times, 1000),
      drain_s: Math.round(drain * 10) / 10,
      ideal_drain_s: ideal,
      drain_vs_ideal: round2(drain / ideal),
      http_429: plivo.received.filter(([, , s]) => s === 429).length,
    };
  });
}

// ---------- 5. fairness ----------

async function fairness() {
  const shape = fairnessLoadShape(Q);
  // One run per side: the figures it judges differ by orders of magnitude, not by noise.
  const baseline = await fairnessSide('baseline', sides, shape);
  const holdq = await fairnessSide('holdq', sides, shape);
  const p99Ratio = holdq.desk_p99_ms !== null && baseline.desk_p99_ms ? holdq.desk_p99_ms / baseline.desk_p99_ms : null;
  return { shape, baseline, holdq, desk_p99_ratio: p99Ratio === null ? null : Math.round(p99Ratio * 1000) / 1000 };
}

// ---------- 6. estimated wait (bench/estimate.mjs) ----------

/** holdq alone, one run: the naive estimators it is judged against are computed from the same run's events. */
async function estimate() {
  const shape = estimateShape(Q);
  return { shape, ...(await estimateSide(sides, shape)) };
}

// ---------- 7. event streams (bench/events.mjs) ----------

/** holdq alone, one run: streams held, memory per stream, latency. */
const events = () => eventsSide(sides, eventsShape(Q), { logDir });

// ---------- run and report ----------

const all = { accept, e2e: endToEnd, worker: workerThroughput, rate: rateAdherence, fairness, estimate, events };
const began = Date.now();
const [loadAtStart] = os.loadavg();
const results = {};
for (const name of chosen) {
  process.stderr.write(`bench: ${name}…\n`);
  results[name] = await all[name]();
  process.stderr.write(`${JSON.stringify(results[name])}\n`);
}

const { markdown, targets } = renderReport(results, {
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  quick: Q,
  rounds: ROUNDS,
  minutes: Math.round((Date.now() - began) / 6000) / 10,
  loadAtStart,
  holdqDir: opts['holdq-dir'],
  main,
  nodeFlags: NODE_FLAGS,
  appendfsync: APPENDFSYNC,
});
process.stdout.write(markdown);
process.stdout.write(`\n${targets.map((t) => `${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.measured}`).join('\n')}\n`);
if (opts.write) {
  writeFileSync(opts.write, markdown);
  process.stderr.write(`bench: wrote ${opts.write}\n`);
}
process.stderr.write(`bench: logs in ${logDir}\n`);
process.exit(0);

// npm run bench: measures holdq as deployed (api and worker as separate processes, Redis
// with AOF as shipped, a fast fake Plivo) against same-run baselines (a bare Express app
// that only validates and calls queue.add; a bare BullMQ worker that only POSTs with got),
// and writes BENCHMARKS.md. Loopback only; every run is bounded in requests and time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFakePlivo } from './fake-plivo.mjs';
import {
  BENCH_KEY,
  benchEnv,
  cpuMs,
  freePort,
  IMAGE_NODE_OPTIONS,
  percentile,
  postIntent,
  preload,
  rssMiB,
  sleep,
  startNode,
  startRedis,
  steady,
  waitFor,
  waitHttp,
} from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string', default: 'BENCHMARKS.md' },
  },
});
const Q = opts.quick;
const logDir = mkdtempSync(join(os.tmpdir(), 'holdq-bench-'));
const APPENDFSYNC = process.env.BENCH_APPENDFSYNC ?? 'always';
const results = {};
/** Interleaved baseline/holdq pairs per measurement; ratios are the median of the pairs' ratios. */
const ROUNDS = Number(opts.rounds ?? (Q ? 2 : 3));

// ---------- process helpers ----------

async function redisInfo(port, section) {
  return execFileSync('redis-cli', ['-p', String(port), 'info', section], { encoding: 'utf8' });
}

function rssSampler(pids) {
  const peak = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  const timer = setInterval(async () => {
    for (const [k, pid] of Object.entries(pids)) {
      try {
        peak[k] = Math.max(peak[k], await rssMiB(pid));
      } catch {
        // process gone
      }
    }
  }, 200);
  return {
    stop: () => (clearInterval(timer), Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v)]))),
  };
}

async function holdqEnv(redis, plivo, extra = {}) {
  const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
  return benchEnv({ redisUrl: redis.url, plivoUrl: plivo.url, port, metricsPort, ...extra });
}

async function startHoldqApi(env) {
  const p = startNode(['dist/main.js', 'api'], env, join(logDir, 'holdq-api.log'));
  await waitHttp(`http://127.0.0.1:${env.PORT}/readyz`);
  return {
    ...p,
    url: `http://127.0.0.1:${env.PORT}`,
    path: '/v1/intents',
    headers: { authorization: `Bearer ${BENCH_KEY}` },
  };
}
async function startHoldqWorker(env) {
  const p = startNode(['dist/main.js', 'worker'], env, join(logDir, 'holdq-worker.log'));
  await waitHttp(`http://127.0.0.1:${env.METRICS_PORT}/readyz`);
  return p;
}
async function startBaselineApi(redis) {
  const port = await freePort();
  const p = startNode(
    ['bench/baseline-api.mjs'],
    { PORT: String(port), REDIS_URL: redis.url, QUEUE_PREFIX: 'baseline', NODE_OPTIONS: '' },
    join(logDir, 'baseline-api.log'),
  );
  await waitHttp(`http://127.0.0.1:${port}/livez`);
  return { ...p, url: `http://127.0.0.1:${port}`, path: '/v1/intents', headers: {} };
}
async function startBaselineWorker(redis, plivo) {
  const p = startNode(
    ['bench/baseline-worker.mjs'],
    {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'baseline',
      PLIVO_BASE_URL: plivo.url,
      WORKER_CONCURRENCY: '50',
      NODE_OPTIONS: '',
    },
    join(logDir, 'baseline-worker.log'),
  );
  await sleep(500);
  return p;
}

/** A fresh Redis per measurement, configured as shipped (AOF, appendfsync always, noeviction). */
async function withRedis(fn) {
  const redis = await startRedis({ aof: APPENDFSYNC });
  try {
    return await fn(redis);
  } finally {
    await redis.kill();
    redis.cleanup();
  }
}

// ---------- load generators ----------

/** Where an API (holdq's or the baseline's) takes intents. */
const intentsUrl = (api) => `${api.url}${api.path}`;

async function cannon(api, seconds, prefix) {
  let n = 0;
  const run = autocannon({
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
  const r = await run;
  return {
    rps: Math.round(r.requests.average),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    total: r.requests.total,
  };
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** The median of per-round ratios holdq/baseline of `pick`, with every round's ratio. */
function pairedRatio(rounds, pick) {
  const each = rounds.map((r) => ratio(pick(r.holdq), pick(r.baseline)));
  return { median: ratio(median(each), 1), rounds: each };
}
/** Round i of a measurement: every side once, in an order that rotates from round to round, so a drift of the machine favours none. */
async function runRound(i, sides, run) {
  const round = {};
  for (let k = 0; k < sides.length; k++) {
    const side = sides[(i + k) % sides.length];
    round[side] = await run(side);
  }
  return round;
}
const pairRound = (i, run) => runRound(i, ['baseline', 'holdq'], run);
/** The run of the median value of `pick`, to stand for a side in the tables. */
const medianRun = (runs, pick) => [...runs].sort((a, b) => pick(a) - pick(b))[Math.floor((runs.length - 1) / 2)];

// ---------- measurements ----------

async function acceptOnce(who, seconds, envExtra = {}) {
  return withRedis(async (redis) => {
    const plivo = await startFakePlivo();
    const api =
      who === 'baseline' ? await startBaselineApi(redis) : await startHoldqApi(await holdqEnv(redis, plivo, envExtra));
    const rss = rssSampler({ api: api.pid });
    await cannon(api, 2, 'warm'); // JIT and connection warm-up, not measured
    const cpu0 = cpuMs(api.pid) + cpuMs(redis.pid);
    const r = await cannon(api, seconds, who);
    // CPU per intent of the API and its Redis together (holdq's accept does part of its work in Redis).
    const cpuUs = Math.round(((cpuMs(api.pid) + cpuMs(redis.pid) - cpu0) * 1000) / r.total);
    const peak = rss.stop();
    await api.kill();
    await plivo.stop();
    return { ...r, cpu_us_per_intent: cpuUs, peak_rss_mib: peak.api };
  });
}

async function acceptThroughput() {
  const seconds = Q ? 5 : 15;
  const rounds = [];
  // What the image's heap cap does: the same load on holdq without it, as a third side of every round.
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push(
      await runRound(i, ['baseline', 'holdq', 'uncapped'], (side) =>
        side === 'uncapped' ? acceptOnce('holdq', seconds, { NODE_OPTIONS: '' }) : acceptOnce(side, seconds),
      ),
    );
  }
  const rps = pairedRatio(rounds, (r) => r.rps);
  const p99 = pairedRatio(rounds, (r) => r.p99_ms);
  // Intents per CPU-second (API + Redis), holdq/baseline: the throughput ratio with the machine's noise mostly taken out.
  const perCpu = pairedRatio(rounds, (r) => 1 / r.cpu_us_per_intent);
  const uncappedRps = pairedRatio(
    rounds.map((r) => ({ baseline: r.baseline, holdq: r.uncapped })),
    (r) => r.rps,
  );
  return {
    seconds,
    connections: 50,
    baseline: medianRun(
      rounds.map((r) => r.baseline),
      (r) => r.rps,
    ),
    holdq: medianRun(
      rounds.map((r) => r.holdq),
      (r) => r.rps,
    ),
    uncapped: {
      ...medianRun(
        rounds.map((r) => r.uncapped),
        (r) => r.rps,
      ),
      peak_rss_mib: Math.max(...rounds.map((r) => r.uncapped.peak_rss_mib)),
    },
    rounds,
    ratio_rps: rps.median,
    ratio_rps_rounds: rps.rounds,
    ratio_p99: p99.median,
    ratio_per_cpu: perCpu.median,
    ratio_per_cpu_rounds: perCpu.rounds,
    ratio_uncapped_rps: uncappedRps.median,
    ratio_uncapped_rps_rounds: uncappedRps.rounds,
    peak_rss_mib: Math.max(...rounds.map((r) => r.holdq.peak_rss_mib)),
  };
}

async function endToEndOnce(who, rate, seconds) {
  return withRedis(async (redis) => {
    const plivo = await startFakePlivo();
    let api;
    let worker;
    if (who === 'holdq') {
      const env = await holdqEnv(redis, plivo);
      worker = await startHoldqWorker(env);
      api = await startHoldqApi(env);
    } else {
      worker = await startBaselineWorker(redis, plivo);
      api = await startBaselineApi(redis);
    }
    const rss = rssSampler({ api: api.pid, worker: worker.pid });
    await steady([postIntent(intentsUrl(api), api.headers)], 50, 2, `warm-${who}`);
    await sleep(500);
    plivo.reset();
    const [sent] = await steady([postIntent(intentsUrl(api), api.headers)], rate, seconds, who);
    await waitFor(() => plivo.received.length >= sent.size, { timeoutMs: 30_000, what: 'all transfers' });
    const peak = rss.stop();
    const lat = plivo.received
      .map(([at, call]) => at - sent.get(call))
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    await api.kill();
    await worker.kill();
    await plivo.stop();
    const r2 = (x) => Math.round(x * 10) / 10;
    return {
      intents: sent.size,
      p50_ms: r2(percentile(lat, 50)),
      p95_ms: r2(percentile(lat, 95)),
      p99_ms: r2(percentile(lat, 99)),
      peak_rss_mib: peak,
    };
  });
}

async function endToEnd() {
  const seconds = Q ? 5 : 15;
  const rate = 200;
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await pairRound(i, (who) => endToEndOnce(who, rate, seconds)));
  const p50 = pairedRatio(rounds, (r) => r.p50_ms);
  const p99 = pairedRatio(rounds, (r) => r.p99_ms);
  const side = (who) => {
    const runs = rounds.map((r) => r[who]);
    return {
      intents: runs[0].intents,
      p50_ms: median(runs.map((r) => r.p50_ms)),
      p95_ms: median(runs.map((r) => r.p95_ms)),
      p99_ms: median(runs.map((r) => r.p99_ms)),
      peak_rss_mib: {
        api: Math.max(...runs.map((r) => r.peak_rss_mib.api)),
        worker: Math.max(...runs.map((r) => r.peak_rss_mib.worker)),
      },
    };
  };
  return {
    rate,
    seconds,
    baseline: side('baseline'),
    holdq: side('holdq'),
    rounds,
    ratio_p50: p50.median,
    ratio_p50_rounds: p50.rounds,
    ratio_p99: p99.median,
    ratio_p99_rounds: p99.rounds,
  };
}

async function workerOnce(who, n, latencyMs) {
  return withRedis(async (redis) => {
    const plivo = await startFakePlivo({ latencyMs });
    let api;
    let env;
    if (who === 'holdq') {
      env = await holdqEnv(redis, plivo);
      api = await startHoldqApi(env);
    } else {
      api = await startBaselineApi(redis);
    }
    const empty = Number(/used_memory:(\d+)/.exec(await redisInfo(redis.port, 'memory'))?.[1]);
    await preload(intentsUrl(api), api.headers, n, `${who}-${latencyMs}`);
    const started = performance.timeOrigin + performance.now();
    const worker = who === 'holdq' ? await startHoldqWorker(env) : await startBaselineWorker(redis, plivo);
    const rss = rssSampler({ worker: worker.pid });
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
    const peak = rss.stop();
    let perIntentBytes = null;
    if (who === 'holdq') {
      await sleep(1000); // let the last records settle
      const after = Number(/used_memory:(\d+)/.exec(await redisInfo(redis.port, 'memory'))?.[1]);
      perIntentBytes = Math.round((after - empty) / n);
    }
    await worker.kill();
    await api.kill();
    await plivo.stop();
    return {
      transfers: n,
      per_second: Math.round(n / ((last - first) / 1000)),
      from_start_s: Math.round((last - started) / 100) / 10,
      cpu_us_per_intent: Math.round(((cpu1 - cpu0) * 1000) / n),
      peak_rss_mib: peak.worker,
      ...(perIntentBytes ? { redis_bytes_per_retained_intent: perIntentBytes } : {}),
    };
  });
}

async function workerThroughput() {
  const n = Q ? 1000 : 5000;
  const out = { intents: n };
  for (const latencyMs of [0, 50]) {
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await pairRound(i, (who) => workerOnce(who, n, latencyMs)));
    const r = pairedRatio(rounds, (x) => x.per_second);
    out[`baseline_${latencyMs}ms`] = medianRun(
      rounds.map((x) => x.baseline),
      (x) => x.per_second,
    );
    out[`holdq_${latencyMs}ms`] = {
      ...medianRun(
        rounds.map((x) => x.holdq),
        (x) => x.per_second,
      ),
      peak_rss_mib: Math.max(...rounds.map((x) => x.holdq.peak_rss_mib)),
    };
    out[`ratio_${latencyMs}ms`] = r.median;
    out[`ratio_${latencyMs}ms_rounds`] = r.rounds;
    const perCpu = pairedRatio(rounds, (x) => 1 / x.cpu_us_per_intent);
    out[`ratio_per_cpu_${latencyMs}ms`] = perCpu.median;
    out[`ratio_per_cpu_${latencyMs}ms_rounds`] = perCpu.rounds;
    out[`rounds_${latencyMs}ms`] = rounds;
  }
  return out;
}

async function rateAdherence() {
  const n = Q ? 600 : 3000;
  const maxRps = 60;
  return withRedis(async (redis) => {
    const plivo = await startFakePlivo({ limitPerSecond: maxRps });
    const env = await holdqEnv(redis, plivo, { PLIVO_MAX_RPS: String(maxRps) });
    const api = await startHoldqApi(env);
    await preload(intentsUrl(api), api.headers, n, 'burst');
    const worker = await startHoldqWorker(env);
    await waitFor(() => plivo.received.filter(([, , s]) => s === 202).length >= n, {
      timeoutMs: 200_000,
      intervalMs: 200,
      what: 'the burst',
    });
    await worker.kill();
    await api.kill();
    await plivo.stop();
    const times = plivo.received.map(([at]) => at);
    let maxWindow = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1000) j++;
      maxWindow = Math.max(maxWindow, i - j + 1);
    }
    const drain = (times.at(-1) - times[0]) / 1000;
    const ideal = n / maxRps;
    return {
      burst: n,
      plivo_max_rps: maxRps,
      max_in_any_1s_window: maxWindow,
      drain_s: Math.round(drain * 10) / 10,
      ideal_drain_s: ideal,
      drain_vs_ideal: ratio(drain, ideal),
      http_429: plivo.received.filter(([, , s]) => s === 429).length,
    };
  });
}

// ---------- report ----------

const all = { accept: acceptThroughput, e2e: endToEnd, worker: workerThroughput, rate: rateAdherence };
const chosen = opts.only ? opts.only.split(',') : Object.keys(all);
for (const name of chosen) {
  process.stderr.write(`bench: ${name}…\n`);
  results[name] = await all[name]();
  process.stderr.write(`${JSON.stringify(results[name])}\n`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown';
const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const machine = `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, ${redisVersion.split(' ').slice(0, 3).join(' ')}`;
const target = (ok) => (ok ? 'met' : '**missed**');
const each = (xs) => `(rounds: ${xs.join(', ')})`;
const lines = [
  '# holdq benchmarks',
  '',
  `Generated by \`npm run bench\`${Q ? ' (--quick)' : ''} on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}.`,
  `holdq ${pkg.version}, run as the image runs it: api and worker as separate processes, \`NODE_OPTIONS=${IMAGE_NODE_OPTIONS}\` (the Dockerfile's). Redis runs as shipped: AOF with \`appendfsync ${APPENDFSYNC}\`, \`noeviction\`. Log level \`${process.env.BENCH_LOG_LEVEL ?? 'info'}\` (one access line per request, as deployed).`,
  '',
  'Every figure comes with a baseline measured in the same run on the same machine: a bare Express 5 app that',
  'only validates JSON and calls `queue.add` (`bench/baseline-api.mjs`), and a bare BullMQ worker that only',
  "POSTs the transfer with got (`bench/baseline-worker.mjs`), both with Node's defaults. Absolute numbers drift",
  `on a shared 2-core machine, so each measurement runs ${ROUNDS} interleaved baseline/holdq rounds (which goes first rotates), each run on a fresh`,
  "Redis, and a ratio is the median of the rounds' ratios (every round's ratio is shown). The tables show the",
  'median round. Plivo is a minimal fake (`bench/fake-plivo.mjs`) on loopback.',
  '',
];
if (results.accept) {
  const a = results.accept;
  lines.push(
    '## 1. Accept throughput (`POST /v1/intents`, 50 connections, autocannon)',
    '',
    '| | intents/s | p50 ms | p99 ms | non-2xx | CPU µs per intent (API + Redis) | peak RSS MiB |',
    '|---|---|---|---|---|---|---|',
    ...[
      ['baseline API', a.baseline],
      ['holdq API', a.holdq],
      ['holdq API without the heap cap (`NODE_OPTIONS=`)', a.uncapped],
    ].map(
      ([name, x]) =>
        `| ${name} | ${x.rps} | ${x.p50_ms} | ${x.p99_ms} | ${x.non2xx} | ${x.cpu_us_per_intent ?? '—'} | ${x.peak_rss_mib} |`,
    ),
    '',
    `Ratio holdq/baseline: throughput **${a.ratio_rps}** ${each(a.ratio_rps_rounds)} (target ≥ 0.9: ${target(a.ratio_rps >= 0.9)}), p99 ${a.ratio_p99}. ${a.seconds} s runs after a 2 s warm-up.`,
    `Without the heap cap (a third run in each round): throughput ${a.ratio_uncapped_rps} ${each(a.ratio_uncapped_rps_rounds)} of the baseline, peak RSS ${a.uncapped.peak_rss_mib} MiB.`,
    a.ratio_per_cpu
      ? `Intents per CPU-second (API and its Redis together), holdq/baseline: ${a.ratio_per_cpu} ${each(a.ratio_per_cpu_rounds)}: what each intent costs, with less of the machine's drift in it than throughput (no target; see the findings).`
      : '',
    '',
  );
}
if (results.e2e) {
  const e = results.e2e;
  lines.push(
    `## 2. End-to-end latency at a steady ${e.rate} intents/s (intent sent → Plivo receives the transfer)`,
    '',
    '| | intents per round | p50 ms | p95 ms | p99 ms | peak RSS api / worker MiB |',
    '|---|---|---|---|---|---|',
    `| baseline pipeline | ${e.baseline.intents} | ${e.baseline.p50_ms} | ${e.baseline.p95_ms} | ${e.baseline.p99_ms} | ${e.baseline.peak_rss_mib.api} / ${e.baseline.peak_rss_mib.worker} |`,
    `| holdq | ${e.holdq.intents} | ${e.holdq.p50_ms} | ${e.holdq.p95_ms} | ${e.holdq.p99_ms} | ${e.holdq.peak_rss_mib.api} / ${e.holdq.peak_rss_mib.worker} |`,
    '',
    `Latencies are the medians of the rounds. Ratio holdq/baseline: p50 **${e.ratio_p50}** ${each(e.ratio_p50_rounds)}, p99 **${e.ratio_p99}** ${each(e.ratio_p99_rounds)} (target ≤ 1.5: ${target(e.ratio_p50 <= 1.5 && e.ratio_p99 <= 1.5)}).`,
    '',
  );
}
if (results.worker) {
  const w = results.worker;
  lines.push(
    `## 3. Worker throughput (${w.intents} queued intents, rate limit out of the way, concurrency 50)`,
    '',
    '| Plivo latency | baseline transfers/s | holdq transfers/s | ratio | CPU µs per intent (worker + Redis), baseline / holdq | intents per CPU-second, holdq/baseline | holdq peak RSS MiB |',
    '|---|---|---|---|---|---|---|',
    ...[0, 50].map((ms) => {
      const [b, h] = [w[`baseline_${ms}ms`], w[`holdq_${ms}ms`]];
      const perCpu = w[`ratio_per_cpu_${ms}ms`]
        ? `${w[`ratio_per_cpu_${ms}ms`]} ${each(w[`ratio_per_cpu_${ms}ms_rounds`])}`
        : '—';
      return `| ${ms} ms | ${b.per_second} | ${h.per_second} | **${w[`ratio_${ms}ms`]}** ${each(w[`ratio_${ms}ms_rounds`])} | ${b.cpu_us_per_intent ?? '—'} / ${h.cpu_us_per_intent ?? '—'} | ${perCpu} | ${h.peak_rss_mib} |`;
    }),
    '',
    `Target ≥ 0.8: ${target(w.ratio_0ms >= 0.8 && w.ratio_50ms >= 0.8)}.`,
    '',
  );
}
if (results.rate) {
  const r = results.rate;
  lines.push(
    `## 4. Rate adherence: a burst of ${r.burst} intents with \`PLIVO_MAX_RPS=${r.plivo_max_rps}\``,
    '',
    '| most requests in any 1 s window | drain time | ideal (burst ÷ rate) | drain / ideal | 429s (the fake enforces the same limit) |',
    '|---|---|---|---|---|',
    `| ${r.max_in_any_1s_window} | ${r.drain_s} s | ${r.ideal_drain_s} s | ${r.drain_vs_ideal} | ${r.http_429} |`,
    '',
    `Targets: ≤ ${r.plivo_max_rps} per window ${target(r.max_in_any_1s_window <= r.plivo_max_rps)}; drain within 5 % of ideal ${target(Math.abs(r.drain_vs_ideal - 1) <= 0.05)}; zero 429s ${target(r.http_429 === 0)}.`,
    '',
  );
}
if (results.worker || results.e2e || results.accept) {
  const a = results.accept;
  const e = results.e2e;
  const w = results.worker;
  const rss = [
    a?.peak_rss_mib,
    e?.holdq.peak_rss_mib.api,
    e?.holdq.peak_rss_mib.worker,
    w?.holdq_0ms.peak_rss_mib,
    w?.holdq_50ms.peak_rss_mib,
  ].filter(Boolean);
  lines.push(
    '## 5. Memory',
    '',
    `Peak RSS of any holdq process under the loads above, in any round: **${Math.max(...rss)} MiB** (target ≤ 150 MB, 143 MiB: ${target(Math.max(...rss) <= 143)}).`,
    [
      a
        ? `api under the accept flood ${a.peak_rss_mib} MiB (${a.uncapped.peak_rss_mib} MiB without the heap cap)`
        : null,
      e
        ? `api / worker at a steady ${e.rate}/s ${e.holdq.peak_rss_mib.api} / ${e.holdq.peak_rss_mib.worker} MiB`
        : null,
      w
        ? `worker draining ${w.intents} intents ${w.holdq_0ms.peak_rss_mib} MiB (0 ms Plivo) / ${w.holdq_50ms.peak_rss_mib} MiB (50 ms)`
        : null,
    ]
      .filter(Boolean)
      .join('; ') + '.',
    w
      ? `Redis memory per retained (finished) intent: **${w.holdq_0ms.redis_bytes_per_retained_intent} bytes** (used_memory after ${w.intents} completed intents ÷ ${w.intents}, median round; finished intents are kept \`INTENT_RETENTION_SECONDS\`, 7 days by default).`
      : '',
    '',
  );
}
try {
  lines.push(readFileSync('bench/findings.md', 'utf8').trim(), '');
} catch {
  // no findings file: nothing to add
}
lines.push(
  '## Reproduce',
  '',
  '```sh',
  'npm ci && npm run bench            # about 10 minutes; rewrites this file',
  'npm run bench -- --quick           # a shorter run (2 rounds, shorter loads)',
  'npm run bench -- --only accept,rate # some measurements',
  'npm run bench -- --rounds 5        # more rounds',
  '```',
  '',
  `Raw results:`,
  '',
  '```json',
  JSON.stringify(results, null, 2),
  '```',
  '',
);
writeFileSync(opts.out, lines.join('\n'));
process.stderr.write(`bench: wrote ${opts.out} (logs in ${logDir})\n`);
process.exit(0);

// npm run bench:compare -- A B: two builds under the same load at the same time, for judging a
// change on a noisy machine. Sequential runs drift with whatever else the machine is doing
// (±20 % between rounds here); two processes loaded together see the same machine, so the
// ratio of their throughputs is steady to a few percent even when the absolute figures are not.
//   A, B: a holdq build (a directory holding main.js, e.g. dist/, or a checkout with dist/ inside),
//         or `baseline` (bench/baseline-api.mjs / baseline-worker.mjs).
//   --role api (default): each side's API takes 50 connections of POST /v1/intents for --seconds.
//   --role worker: each side's worker drains --intents queued intents (fake Plivo, --latency ms).
//   --role e2e: each side (API and worker) takes --rate intents/s for --seconds, in the same
//         ticks; B/A of the p50 and p99 of intent sent → fake Plivo received.
// holdq sides run with the image's NODE_OPTIONS (the Dockerfile's) unless --a-node-options /
// --b-node-options say otherwise, the baseline with Node's defaults. --a-env / --b-env KEY=VALUE,…
// change a side's environment (e.g. `--b-env LOG_LEVEL=warn dist dist` prices the access log). CPU per intent is counted for
// the process under load and for its Redis (holdq's accept does part of its work in Redis).
// Loopback only; every run is bounded in time and count. Prints B/A per round and the median.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFakePlivo } from './fake-plivo.mjs';
import {
  BENCH_KEY,
  benchEnv,
  cpuMs,
  freePort,
  peakRssMiB,
  percentile,
  postIntent,
  preload,
  startNode,
  startRedis,
  steady,
  waitFor,
  waitHttp,
} from './lib.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    role: { type: 'string', default: 'api' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    intents: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '0' },
    rate: { type: 'string', default: '200' },
    'a-node-options': { type: 'string' },
    'b-node-options': { type: 'string' },
    'a-env': { type: 'string' },
    'b-env': { type: 'string' },
  },
});
if (positionals.length !== 2 || !['api', 'worker', 'e2e'].includes(opts.role)) {
  throw new Error(
    'usage: node bench/compare.mjs [--role api|worker|e2e] [--rounds N] [--seconds N] [--intents N] [--latency ms] [--rate N] A B',
  );
}
const sides = positionals.map((p, i) => {
  const name = `${'AB'[i]}:${p}`;
  const nodeOptions = opts[`${'ab'[i]}-node-options`];
  const envText = opts[`${'ab'[i]}-env`];
  const env = Object.fromEntries(
    (envText ? envText.split(',') : []).map((pair) => {
      const kv = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(pair);
      if (!kv) throw new Error(`--${'ab'[i]}-env: not KEY=VALUE,…: ${envText}`);
      return [kv[1], kv[2]];
    }),
  );
  if (p === 'baseline') return { name, baseline: true, nodeOptions, env };
  const dir = [resolve(p), resolve(p, 'dist')].find((d) => existsSync(join(d, 'main.js')));
  if (!dir) throw new Error(`${p}: no main.js there or in its dist/ (run npm run build there first)`);
  return {
    name: envText ? `${name} (${envText})` : name,
    baseline: false,
    main: join(dir, 'main.js'),
    nodeOptions,
    env,
  };
});

async function setUp(side, i) {
  const redis = await startRedis({ aof: 'always' });
  const plivo = await startFakePlivo({ latencyMs: Number(opts.latency) });
  const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
  const env = benchEnv({
    redisUrl: redis.url,
    plivoUrl: plivo.url,
    port,
    metricsPort,
    baseline: side.baseline,
    ...(side.nodeOptions !== undefined ? { NODE_OPTIONS: side.nodeOptions } : {}),
    ...side.env,
  });
  const args = (role) => (side.baseline ? [`bench/baseline-${role}.mjs`] : [side.main, role]);
  const api = startNode(args('api'), env, `/tmp/holdq-compare-${i}-api.log`);
  const s = { side, redis, plivo, api };
  try {
    await waitHttp(`http://127.0.0.1:${port}/livez`);
  } catch (err) {
    // A side that does not come up (a bad --*-node-options) leaves no process behind.
    await tearDown(s);
    throw new Error(`${side.name} did not start (see /tmp/holdq-compare-${i}-api.log): ${err.message}`);
  }
  const url = `http://127.0.0.1:${port}/v1/intents`;
  const headers = {
    'content-type': 'application/json',
    ...(side.baseline ? {} : { authorization: `Bearer ${BENCH_KEY}` }),
  };
  return { ...s, url, headers, start: (role) => startNode(args(role), env, `/tmp/holdq-compare-${i}-${role}.log`) };
}

/** Both sides, or neither: when one fails to start, the other is stopped before the error goes on. */
async function setUpBoth() {
  const started = await Promise.allSettled(sides.map(setUp));
  const failed = started.find((r) => r.status === 'rejected');
  if (!failed) return started.map((r) => r.value);
  for (const r of started) if (r.status === 'fulfilled') await tearDown(r.value);
  throw failed.reason;
}

async function tearDown(s) {
  await s.worker?.kill();
  await s.api.kill();
  await s.plivo.stop();
  await s.redis.kill();
  s.redis.cleanup();
}

function load(s, seconds) {
  let n = 0;
  return autocannon({
    url: s.url,
    connections: 50,
    duration: seconds,
    method: 'POST',
    headers: s.headers,
    requests: [
      { setupRequest: (req) => ({ ...req, body: JSON.stringify({ type: 'hold', call_uuid: `cmp-${n++ % 5000}` }) }) },
    ],
  });
}

async function apiRound() {
  const set = await setUpBoth();
  try {
    await Promise.all(set.map((s) => load(s, 2)));
    const before = set.map((s) => [cpuMs(s.api.pid), cpuMs(s.redis.pid)]);
    const results = await Promise.all(set.map((s) => load(s, Number(opts.seconds))));
    return set.map((s, i) => {
      // Only answered intents count; a 4xx/5xx flood would otherwise look fast.
      const ok = results[i]['2xx'];
      return {
        rate: ok / Number(opts.seconds),
        cpuUs: ((cpuMs(s.api.pid) - before[i][0]) * 1000) / ok,
        redisUs: ((cpuMs(s.redis.pid) - before[i][1]) * 1000) / ok,
        non2xx: results[i].non2xx + results[i].errors,
        rss: peakRssMiB(s.api.pid),
      };
    });
  } finally {
    for (const s of set) await tearDown(s);
  }
}

async function workerRound() {
  const n = Number(opts.intents);
  const set = await setUpBoth();
  try {
    for (const s of set) await preload(s.url, s.headers, n, 'cmp');
    for (const s of set) s.worker = s.start('worker');
    await waitFor(
      () => {
        for (const s of set)
          if (s.cpu0 === undefined && s.plivo.received.length > 0)
            [s.cpu0, s.redis0] = [cpuMs(s.worker.pid), cpuMs(s.redis.pid)];
        for (const s of set)
          if (s.cpu1 === undefined && s.plivo.received.length >= n)
            [s.cpu1, s.redis1] = [cpuMs(s.worker.pid), cpuMs(s.redis.pid)];
        return set.every((s) => s.plivo.received.length >= n);
      },
      { timeoutMs: 300_000, intervalMs: 5, what: 'both drains' },
    );
    return set.map((s) => ({
      rate: n / ((s.plivo.received.at(-1)[0] - s.plivo.received[0][0]) / 1000),
      cpuUs: ((s.cpu1 - s.cpu0) * 1000) / n,
      redisUs: ((s.redis1 - s.redis0) * 1000) / n,
      non2xx: 0,
      rss: peakRssMiB(s.worker.pid),
    }));
  } finally {
    for (const s of set) await tearDown(s);
  }
}

/** Both sides at a steady --rate in the same 50 ms ticks; latency = sent → the fake Plivo received it. */
async function e2eRound() {
  const set = await setUpBoth();
  try {
    for (const s of set) s.worker = s.start('worker');
    // Warm-up, then measure: every side gets the same intents at the same moments.
    for (const [phase, rate, seconds] of [
      ['warm', 50, 2],
      ['run', Number(opts.rate), Number(opts.seconds)],
    ]) {
      for (const s of set) s.plivo.reset();
      const sent = await steady(
        set.map((s) => postIntent(s.url, s.headers)),
        rate,
        seconds,
        phase,
      );
      set.forEach((s, i) => (s.sent = sent[i]));
      await waitFor(() => set.every((s) => s.plivo.received.length >= s.sent.size), {
        timeoutMs: 60_000,
        what: 'all transfers',
      });
    }
    return set.map((s) => {
      const lat = s.plivo.received
        .map(([at, call]) => at - s.sent.get(call))
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      return { p50: percentile(lat, 50), p99: percentile(lat, 99), n: lat.length };
    });
  } finally {
    for (const s of set) await tearDown(s);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const rounds = [];
if (opts.role === 'e2e') {
  for (let r = 0; r < Number(opts.rounds); r++) {
    const [a, b] = await e2eRound();
    rounds.push({ p50: b.p50 / a.p50, p99: b.p99 / a.p99 });
    const side = (x) => `p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms (${x.n} intents)`;
    console.log(
      `round ${r + 1}: ${sides[0].name} ${side(a)}; ${sides[1].name} ${side(b)}; B/A p50 ${(b.p50 / a.p50).toFixed(2)}, p99 ${(b.p99 / a.p99).toFixed(2)}`,
    );
  }
  console.log(
    `\nB/A (e2e at ${opts.rate}/s each, ${rounds.length} rounds, both sides loaded at once): p50 ${median(rounds.map((r) => r.p50)).toFixed(2)}, p99 ${median(rounds.map((r) => r.p99)).toFixed(2)} (medians)`,
  );
  process.exit(0);
}
for (let r = 0; r < Number(opts.rounds); r++) {
  const [a, b] = opts.role === 'api' ? await apiRound() : await workerRound();
  const total = (x) => x.cpuUs + x.redisUs;
  rounds.push({ a, b, rate: b.rate / a.rate, cpu: total(b) / total(a) });
  const side = (x) =>
    `${Math.round(x.rate)}/s, ${Math.round(x.cpuUs)} + ${Math.round(x.redisUs)} µs CPU per intent (${opts.role} + Redis), peak RSS ${x.rss} MiB`;
  console.log(
    `round ${r + 1}: ${sides[0].name} ${side(a)}; ${sides[1].name} ${side(b)}; B/A throughput ${(b.rate / a.rate).toFixed(2)}, CPU ${(total(b) / total(a)).toFixed(2)}${a.non2xx + b.non2xx ? `; failed requests ${a.non2xx}/${b.non2xx}` : ''}`,
  );
}
console.log(
  `\nB/A (${opts.role}, ${rounds.length} rounds, both sides loaded at once): throughput ${median(rounds.map((r) => r.rate)).toFixed(2)}, CPU per intent (${opts.role} + Redis) ${median(rounds.map((r) => r.cpu)).toFixed(2)} (medians)`,
);
process.exit(0);

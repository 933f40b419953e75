// npm run bench:profile -- api|worker: profiles the baseline and holdq under the same load, one
// after the other, with --cpu-prof (Redis as shipped, the fast fake Plivo, loopback only, bounded
// in time and count), and prints where each spent its CPU per intent: by package side by side, the
// functions where holdq spends most more than the baseline, and Redis's own per-command times.
// holdq runs with the image's NODE_OPTIONS, as in `npm run bench`. The .cpuprofile files are kept;
// open one in Chrome DevTools (Performance) or speedscope for a flame graph.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFakePlivo } from './fake-plivo.mjs';
import { BENCH_KEY, benchEnv, cpuMs, freePort, startNode, startRedis, waitFor, waitHttp } from './lib.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    intents: { type: 'string', default: '5000' },
    top: { type: 'string', default: '30' },
  },
});
const role = positionals[0] ?? 'api';
if (!['api', 'worker'].includes(role))
  throw new Error('usage: node bench/profile.mjs api|worker [--seconds N] [--intents N] [--top N]');
const seconds = Number(opts.seconds);
const total = Number(opts.intents);

async function profileOne(who) {
  const dir = mkdtempSync(join(os.tmpdir(), `holdq-profile-${who}-`));
  const redis = await startRedis({ aof: process.env.BENCH_APPENDFSYNC ?? 'always' });
  const plivo = await startFakePlivo();
  const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
  const holdq = who === 'holdq';
  const env = benchEnv({ redisUrl: redis.url, plivoUrl: plivo.url, port, metricsPort, baseline: !holdq });
  const prof = ['--cpu-prof', '--cpu-prof-dir', dir];
  const script = (r) => (holdq ? ['dist/main.js', r] : [`bench/baseline-${r}.mjs`]);
  const url = `http://127.0.0.1:${port}/v1/intents`;
  const headers = { 'content-type': 'application/json', ...(holdq ? { authorization: `Bearer ${BENCH_KEY}` } : {}) };
  let n = 0;
  const body = () => JSON.stringify({ type: 'hold', call_uuid: `profile-${n++ % 5000}` });
  let intents;
  let line;
  try {
    const api = startNode([...(role === 'api' ? prof : []), ...script('api')], env, join(dir, 'api.log'));
    await waitHttp(`http://127.0.0.1:${port}/livez`);
    if (role === 'api') {
      const r = await autocannon({
        url,
        connections: 50,
        duration: seconds,
        method: 'POST',
        headers,
        requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
      });
      intents = r.requests.total;
      line = `${Math.round(r.requests.average)} intents/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}`;
    } else {
      for (let i = 0; i < total; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, total - i) }, () =>
            fetch(url, { method: 'POST', headers, body: body() }).then((r) => r.arrayBuffer()),
          ),
        );
      }
      // Redis's figures below are the worker's alone, not the preload's accepts.
      execFileSync('redis-cli', ['-p', String(redis.port), 'config', 'resetstat']);
      const worker = startNode([...prof, ...script('worker')], env, join(dir, 'worker.log'));
      // From the first transfer to the last: the worker's start-up is not part of the figures below.
      let first = null;
      await waitFor(
        () => {
          if (!first && plivo.received.length > 0)
            first = {
              at: performance.now(),
              cpu: cpuMs(worker.pid),
              main: cpuMs(worker.pid, true),
              redis: cpuMs(redis.pid),
            };
          return plivo.received.length >= total;
        },
        { timeoutMs: 300_000, intervalMs: 5, what: `${total} transfers` },
      );
      const wall = performance.now() - first.at;
      const per = (ms) => Math.round((ms * 1000) / total);
      intents = total;
      line = `${Math.round(total / (wall / 1000))} transfers/s; per intent: worker ${per(cpuMs(worker.pid) - first.cpu)} µs CPU (main thread ${per(cpuMs(worker.pid, true) - first.main)} µs, busy ${Math.round(((cpuMs(worker.pid, true) - first.main) / wall) * 100)} % of the time), Redis ${per(cpuMs(redis.pid) - first.redis)} µs`;
      await worker.kill();
    }
    await api.kill();
    const stats = execFileSync('redis-cli', ['-p', String(redis.port), 'info', 'commandstats'], { encoding: 'utf8' });
    const redisRows = [...stats.matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/g)].map((m) => [
      m[1],
      Number(m[2]),
      Number(m[3]),
      Number(m[4]),
    ]);
    return { who, dir, intents, line, redisRows, ...readProfile(dir) };
  } finally {
    await plivo.stop();
    await redis.kill();
    redis.cleanup();
  }
}

/** Self time by package and by function, from the profile of the process under load. */
function readProfile(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const where = (cf) => {
    const u = cf.url || '';
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1];
    if (pkg) return pkg;
    if (u.includes('/dist/') || u.includes('/bench/')) return 'app';
    if (u.startsWith('node:')) return 'node core';
    return u ? u : `(${cf.functionName || 'native'})`;
  };
  const packages = new Map();
  const functions = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const cf = byId.get(profile.samples[i]).callFrame;
    const us = profile.timeDeltas[i + 1] ?? 0;
    const pkg = where(cf);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const fn = `${cf.functionName || '(anonymous)'} ${pkg === cf.url ? '' : pkg}:${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  return { file: join(dir, file), packages, functions };
}

const runs = [await profileOne('baseline'), await profileOne('holdq')];
const [base, holdq] = runs;
const perIntent = (run, map, key) => (map.get(key) ?? 0) / run.intents;
const fmt = (x) => x.toFixed(1).padStart(8);
console.log(
  `\n${role} under load (${role === 'api' ? `50 connections, ${seconds} s` : `${total} queued intents, concurrency 50`}):`,
);
for (const r of runs) console.log(`  ${r.who.padEnd(8)} ${r.line}; profile ${r.file}`);
console.log(`\nself time per intent, µs, by package (the whole profile, start-up included): baseline | holdq`);
const pkgs = new Set(runs.flatMap((r) => [...r.packages.keys()]));
const rows = [...pkgs]
  .map((k) => [k, perIntent(base, base.packages, k), perIntent(holdq, holdq.packages, k)])
  .sort((a, b) => b[2] - a[2]);
for (const [k, b, h] of rows) if (Math.max(b, h) >= 1) console.log(`${fmt(b)} ${fmt(h)}  ${k}`);
console.log(`${fmt(rows.reduce((a, r) => a + r[1], 0))} ${fmt(rows.reduce((a, r) => a + r[2], 0))}  total`);
console.log(`\nfunctions where holdq spends most more than the baseline, µs per intent: baseline | holdq`);
const fns = new Set(runs.flatMap((r) => [...r.functions.keys()]));
const frows = [...fns]
  .map((k) => [k, perIntent(base, base.functions, k), perIntent(holdq, holdq.functions, k)])
  .sort((a, b) => b[2] - b[1] - (a[2] - a[1]));
for (const [k, b, h] of frows.slice(0, Number(opts.top))) console.log(`${fmt(b)} ${fmt(h)}  ${k}`);
console.log(
  `\nRedis (INFO commandstats, per intent, by holdq's total time; a script's own commands count in evalsha and again on their lines): baseline | holdq`,
);
const baseRow = new Map(base.redisRows.map((r) => [r[0], r]));
for (const [cmd, calls, usec] of holdq.redisRows.sort((a, b) => b[2] - a[2]).slice(0, 12)) {
  const [, bCalls = 0, bUsec = 0] = baseRow.get(cmd) ?? [];
  const cell = (u, c, n) => `${fmt(u / n)} µs ${(c / n).toFixed(2).padStart(6)} calls`;
  console.log(`${cell(bUsec, bCalls, base.intents)} | ${cell(usec, calls, holdq.intents)}  ${cmd}`);
}
process.exit(0);

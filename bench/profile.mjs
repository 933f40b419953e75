// npm run bench:profile -- api|worker: runs one holdq process under load with --cpu-prof
// (Redis as shipped, the fast fake Plivo, loopback only, bounded in time and count),
// then prints where its CPU time went: by package, and the hottest functions by self time.
// The .cpuprofile is kept; open it in Chrome DevTools (Performance) or speedscope for a flame graph.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFakePlivo } from './fake-plivo.mjs';
import { freePort, startNode, startRedis, waitFor, waitHttp } from './lib.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: 'string', default: '10' }, intents: { type: 'string', default: '5000' }, top: { type: 'string', default: '30' } },
});
const role = positionals[0] ?? 'api';
if (!['api', 'worker'].includes(role)) throw new Error('usage: node bench/profile.mjs api|worker');
const KEY = 'bench-secret-0123456789';
const dir = mkdtempSync(join(os.tmpdir(), 'holdq-profile-'));
const redis = await startRedis({ aof: process.env.BENCH_APPENDFSYNC ?? 'always' });
const plivo = await startFakePlivo();
const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
const env = {
  REDIS_URL: redis.url,
  API_KEYS: `bench:${KEY}`,
  PLIVO_AUTH_ID: 'BENCH',
  PLIVO_AUTH_TOKEN: 'bench-token',
  PLIVO_BASE_URL: plivo.url,
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  PORT: String(port),
  METRICS_PORT: String(metricsPort),
  PLIVO_MAX_RPS: '10000',
  API_RATE_LIMIT_RPS: '1000000',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
};
const prof = ['--cpu-prof', '--cpu-prof-dir', dir];
const url = `http://127.0.0.1:${port}/v1/intents`;
const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

let n = 0;
const body = () => JSON.stringify({ type: 'hold', call_uuid: `profile-${n++ % 5000}` });
try {
  const api = startNode([...(role === 'api' ? prof : []), 'dist/main.js', 'api'], env, join(dir, 'api.log'));
  await waitHttp(`http://127.0.0.1:${port}/readyz`);
  if (role === 'api') {
    const r = await autocannon({ url, connections: 50, duration: Number(opts.seconds), method: 'POST', headers, requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }] });
    process.stderr.write(`load: ${Math.round(r.requests.average)} intents/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}\n`);
  } else {
    const total = Number(opts.intents);
    for (let i = 0; i < total; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, total - i) }, () => fetch(url, { method: 'POST', headers, body: body() }).then((r) => r.arrayBuffer())));
    }
    const started = performance.now();
    const worker = startNode([...prof, 'dist/main.js', 'worker'], env, join(dir, 'worker.log'));
    await waitFor(() => plivo.received.length >= total, { timeoutMs: 300_000, intervalMs: 100, what: `${total} transfers` });
    process.stderr.write(`load: ${total} transfers in ${Math.round(performance.now() - started)} ms (including start-up)\n`);
    await worker.kill();
  }
  await api.kill();
  const stats = execFileSync('redis-cli', ['-p', String(redis.port), 'info', 'commandstats'], { encoding: 'utf8' });
  const rows = [...stats.matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/g)].map((m) => [m[1], Number(m[2]), Number(m[3]), Number(m[4])]);
  console.log('\nRedis (INFO commandstats, by total time):');
  for (const [cmd, calls, usec, per] of rows.sort((a, b) => b[2] - a[2]).slice(0, 8)) console.log(`${String(Math.round(usec / 1000)).padStart(7)} ms  ${String(calls).padStart(7)} calls  ${per.toFixed(1).padStart(6)} µs/call  ${cmd}`);
} finally {
  await plivo.stop();
  await redis.kill();
  redis.cleanup();
}

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const dt = new Map();
for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
const total = [...dt.values()].reduce((a, b) => a + b, 0);
const where = (cf) => {
  const u = cf.url || '';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1];
  if (pkg) return pkg;
  if (u.includes('/dist/')) return 'holdq';
  if (u.startsWith('node:')) return 'node core';
  return u ? u : `(${cf.functionName || 'native'})`;
};
const packages = new Map();
const functions = new Map();
for (const [id, us] of dt) {
  const cf = byId.get(id).callFrame;
  const pkg = where(cf);
  packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  const fn = `${cf.functionName || '(anonymous)'} ${pkg === cf.url ? '' : pkg}:${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
  functions.set(fn, (functions.get(fn) ?? 0) + us);
}
const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
console.log(`\n${role}: ${(total / 1e6).toFixed(1)} s sampled; profile ${join(dir, file)}\n\nby package (self time):`);
for (const [k, v] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(v)}  ${k}`);
console.log(`\nhottest functions (self time):`);
for (const [k, v] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top))) console.log(`${pct(v)}  ${k}`);
process.exit(0);

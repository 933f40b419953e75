// npm run chaos -- [--scenario durability|upstream|soak|all] [--seconds N] [--rate N]
// Runs holdq as deployed (api and worker as separate processes, Redis with AOF, the Plivo
// simulator) on loopback, injects faults, and checks the promises: nothing accepted is
// lost or stuck, retries stay bounded, per-call order holds, memory stays flat.
// Prints a JSON report per scenario; exits 1 when an invariant breaks.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, rssMiB, sleep, startNode, startRedis, waitHttp } from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    seconds: { type: 'string' },
    rate: { type: 'string', default: '40' },
  },
});
const RATE = Number(opts.rate);
const KEY = 'chaos-secret-0123456789';
const TERMINAL = new Set(['completed', 'failed', 'superseded']);
const logDir = mkdtempSync(join(tmpdir(), 'holdq-chaos-'));

async function startCluster(extraEnv = {}) {
  const redis = await startRedis({ aof: process.env.CHAOS_APPENDFSYNC ?? 'always' });
  const [apiPort, workerPort, simPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const sim = startNode(['dist/main.js', 'simulator'], { SIMULATOR_PORT: String(simPort), SIMULATOR_AUTO_CALLS: 'true', PLIVO_AUTH_ID: 'CHAOS', PLIVO_AUTH_TOKEN: 'chaos-token', LOG_LEVEL: 'warn' }, join(logDir, 'simulator.log'));
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitHttp(`${simUrl}/_sim/transfers`);
  const env = {
    REDIS_URL: redis.url,
    API_KEYS: `chaos:${KEY}`,
    PLIVO_AUTH_ID: 'CHAOS',
    PLIVO_AUTH_TOKEN: 'chaos-token',
    PLIVO_BASE_URL: simUrl,
    PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
    PORT: String(apiPort),
    METRICS_PORT: String(workerPort),
    PLIVO_TIMEOUT_MS: '2000',
    PLIVO_MAX_RPS: '500',
    TRANSFER_BACKOFF_MS: '200',
    TRANSFER_MAX_ATTEMPTS: '8',
    TRANSFER_BUDGET: '70',
    API_RATE_LIMIT_RPS: '0',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const c = {
    redis,
    env,
    simUrl,
    api: null,
    worker: null,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    async startApi() {
      c.api = startNode(['dist/main.js', 'api'], env, join(logDir, 'api.log'));
      await waitHttp(`${c.apiUrl}/readyz`);
    },
    async startWorker() {
      c.worker = startNode(['dist/main.js', 'worker'], env, join(logDir, 'worker.log'));
      await waitHttp(`http://127.0.0.1:${workerPort}/livez`);
    },
    async restartRedis(signal) {
      await redis.kill(signal);
      await sleep(2000);
      c.redis = await startRedis({ port: redis.port, dir: redis.dir, aof: process.env.CHAOS_APPENDFSYNC ?? 'always' });
    },
    sim: (path, body) => fetch(`${simUrl}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    async stop() {
      await Promise.all([c.api?.kill('SIGTERM'), c.worker?.kill('SIGTERM')]);
      await sim.kill('SIGTERM');
      await c.redis.kill('SIGTERM');
      redis.cleanup();
    },
  };
  await c.startWorker();
  await c.startApi();
  return c;
}

/** A client that behaves: one Idempotency-Key per intent, retried on 503 and connection errors (bounded). */
async function postIntent(c, body, accepted, stats) {
  const key = randomUUID();
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const res = await fetch(`${c.apiUrl}/v1/intents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(3000),
      });
      if (res.status === 202 || res.status === 200) {
        const r = await res.json();
        accepted.set(r.id, { call: body.call_uuid, sequence: r.sequence, status: res.status, at: new Date().toISOString(), attempt });
        stats[res.status] = (stats[res.status] ?? 0) + 1;
        return;
      }
      stats[res.status] = (stats[res.status] ?? 0) + 1;
      if (res.status !== 503) return; // a 4xx is final for the client
    } catch {
      stats.network = (stats.network ?? 0) + 1;
    }
    await sleep(250);
  }
  stats.gaveUp = (stats.gaveUp ?? 0) + 1;
}

/** Steady load for `seconds` at RATE intents/s over `calls` calls; `at` maps second → fault action. */
async function load(c, seconds, calls, at = {}) {
  const accepted = new Map();
  const stats = {};
  const inflight = new Set();
  const types = ['hold', 'unhold', 'enqueue'];
  const started = Date.now();
  let sent = 0;
  const faults = [];
  for (let tick = 0; tick < seconds * 10; tick++) {
    const second = Math.floor(tick / 10);
    if (tick % 10 === 0 && at[second]) faults.push(at[second]().catch((err) => console.error('fault action failed:', err)));
    const due = Math.floor(((tick + 1) / 10) * RATE) - sent;
    for (let i = 0; i < due; i++, sent++) {
      const type = types[sent % 3];
      const body = { type, call_uuid: `chaos-${sent % calls}`, ...(type === 'enqueue' ? { queue: 'support' } : {}) };
      const p = postIntent(c, body, accepted, stats).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    const next = started + (tick + 1) * 100;
    await sleep(Math.max(0, next - Date.now()));
  }
  await Promise.all([...inflight, ...faults]);
  return { accepted, stats, sent };
}

async function drain(c, accepted, timeoutMs) {
  const records = new Map();
  const deadline = Date.now() + timeoutMs;
  let pending = [...accepted.keys()];
  while (pending.length > 0 && Date.now() < deadline) {
    const next = [];
    for (let i = 0; i < pending.length; i += 50) {
      const batch = pending.slice(i, i + 50);
      await Promise.all(
        batch.map(async (id) => {
          try {
            const res = await fetch(`${c.apiUrl}/v1/intents/${id}`, { headers: { authorization: `Bearer ${KEY}` } });
            if (res.status === 404) return records.set(id, { status: 'lost' });
            const r = await res.json();
            records.set(id, r);
            if (!TERMINAL.has(r.status)) next.push(id);
          } catch {
            next.push(id);
          }
        }),
      );
    }
    pending = next;
    if (pending.length > 0) await sleep(1000);
  }
  return { records, stuck: pending.length };
}

function summarize(records, transfersSeen) {
  const byStatus = {};
  const errors = {};
  let maxAttempts = 0;
  let recorded202 = 0;
  for (const r of records.values()) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.error) errors[r.error.code] = (errors[r.error.code] ?? 0) + 1;
    maxAttempts = Math.max(maxAttempts, r.attempts ?? 0);
    recorded202 += (r.transfers ?? []).filter((t) => t.status_code === 202).length;
  }
  const seen202 = transfersSeen.filter((t) => t.status === 202).length;
  // Per-call order: the last transfer Plivo accepted for each call is the newest completed intent's.
  const calls = new Map();
  for (const r of records.values()) {
    if (r.status !== 'completed') continue;
    const prev = calls.get(r.call_uuid);
    if (!prev || r.sequence > prev.sequence) calls.set(r.call_uuid, r);
  }
  let orderViolations = 0;
  for (const [call, newest] of calls) {
    const last = transfersSeen.filter((t) => t.call_uuid === call && t.status === 202).at(-1);
    if (!last || last.body.aleg_url !== newest.transfers.at(-1).aleg_url) orderViolations++;
  }
  return { byStatus, errors, maxAttempts, seen202, recorded202, duplicateTransfers: seen202 - recorded202, orderViolations, callsChecked: calls.size };
}

async function durability(seconds) {
  const c = await startCluster();
  await c.sim('/latency', { ms: 40 }); // transfers are in flight when the worker dies
  const t = (f) => Math.max(1, Math.floor(seconds * f));
  const events = [];
  const mark = (what) => events.push({ at_s: Math.round((Date.now() - started) / 100) / 10, what });
  const started = Date.now();
  const { accepted, stats, sent } = await load(c, seconds, 40, {
    [t(0.2)]: async () => {
      mark('kill -9 worker');
      await c.worker.kill('SIGKILL');
      await sleep(2000);
      await c.startWorker();
      mark('worker restarted');
    },
    [t(0.45)]: async () => {
      mark('kill -9 redis');
      await c.restartRedis('SIGKILL');
      mark('redis restarted (AOF replayed)');
    },
    [t(0.7)]: async () => {
      mark('restart api (SIGTERM)');
      await c.api.kill('SIGTERM');
      await c.startApi();
      mark('api restarted');
    },
  });
  const { records, stuck } = await drain(c, accepted, 150_000);
  const seen = await (await fetch(`${c.simUrl}/_sim/transfers`)).json();
  await c.stop();
  const s = summarize(records, seen);
  const lost = s.byStatus.lost ?? 0;
  return {
    scenario: 'durability',
    appendfsync: process.env.CHAOS_APPENDFSYNC ?? 'always',
    seconds,
    rate: RATE,
    sent,
    accepted: accepted.size,
    client: stats,
    events,
    terminal: records.size - stuck - lost,
    stuck,
    lost,
    ...s,
    ok: lost === 0 && stuck === 0,
  };
}

async function upstream(seconds) {
  const c = await startCluster();
  await c.sim('/chaos', { rate: 0.3, retryAfter: '1' }); // 500, 503, 429+Retry-After, timeout, reset
  const { accepted, stats, sent } = await load(c, seconds, 40);
  const { records, stuck } = await drain(c, accepted, 150_000);
  const seen = await (await fetch(`${c.simUrl}/_sim/transfers`)).json();
  await c.stop();
  const s = summarize(records, seen);
  const statusCounts = {};
  for (const t of seen) statusCounts[t.status] = (statusCounts[t.status] ?? 0) + 1;
  // After a 429 every worker pauses for Retry-After (1 s). Requests already on the wire still
  // land in the first few ms; count the ones that arrive 50–950 ms after each 429.
  const times = seen.map((t) => t.at);
  const after429 = seen
    .filter((t) => t.status === 429)
    .map((t) => times.filter((x) => x > t.at + 50 && x < t.at + 950).length)
    .sort((a, b) => a - b);
  const lost = s.byStatus.lost ?? 0;
  return {
    scenario: 'upstream',
    seconds,
    rate: RATE,
    sent,
    accepted: accepted.size,
    client: stats,
    plivoAnswers: statusCounts,
    stuck,
    lost,
    ...s,
    requests_50_950ms_after_a_429: { median: after429[Math.floor(after429.length / 2)] ?? null, max: after429.at(-1) ?? null, of: after429.length },
    ok: lost === 0 && stuck === 0 && s.maxAttempts <= 8 && s.orderViolations === 0,
  };
}

async function soak(seconds) {
  const c = await startCluster({ INTENT_RETENTION_SECONDS: '60' });
  const samples = [];
  const started = Date.now();
  const { createConnection } = await import('node:net');
  const dbsize = () =>
    new Promise((resolve) => {
      const s = createConnection(c.redis.port, '127.0.0.1');
      s.once('data', (d) => (s.end(), resolve(Number(/:(\d+)/.exec(String(d))?.[1] ?? NaN))));
      s.write('DBSIZE\r\n');
    });
  const lag = async (url) => {
    const text = await (await fetch(url)).text();
    return Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
  };
  const sampler = setInterval(async () => {
    try {
      samples.push({
        t_s: Math.round((Date.now() - started) / 1000),
        api_rss_mib: Math.round(await rssMiB(c.api.pid)),
        worker_rss_mib: Math.round(await rssMiB(c.worker.pid)),
        api_loop_p99_ms: Math.round((await lag(`${c.apiUrl}/metrics`)) * 10) / 10,
        worker_loop_p99_ms: Math.round((await lag(`http://127.0.0.1:${c.env.METRICS_PORT}/metrics`)) * 10) / 10,
        redis_keys: await dbsize(),
      });
    } catch {
      // a missed sample is fine
    }
  }, 10_000);
  // Enough calls that none nears its transfer budget (about 30 intents each).
  const { accepted, sent } = await load(c, seconds, Math.ceil((seconds * RATE) / 30));
  clearInterval(sampler);
  const { stuck } = await drain(c, accepted, 120_000);
  await c.stop();
  const third = Math.max(1, Math.floor(samples.length / 3));
  const avg = (xs, k) => xs.reduce((a, s) => a + s[k], 0) / Math.max(xs.length, 1);
  const mid = samples.slice(third, 2 * third);
  const last = samples.slice(-third);
  const growth = (k) => Math.round((avg(last, k) / avg(mid, k)) * 100) / 100;
  return {
    scenario: 'soak',
    seconds,
    rate: RATE,
    sent,
    accepted: accepted.size,
    stuck,
    retention_seconds: 60,
    growth_last_third_vs_middle_third: { api_rss: growth('api_rss_mib'), worker_rss: growth('worker_rss_mib'), redis_keys: growth('redis_keys') },
    samples,
    ok: stuck === 0 && accepted.size === sent && growth('redis_keys') < 1.2 && growth('api_rss_mib') < 1.3 && growth('worker_rss_mib') < 1.3,
  };
}

const scenarios = { durability, upstream, soak };
const chosen = opts.scenario === 'all' ? ['durability', 'upstream'] : opts.scenario.split(',');
const defaults = { durability: 40, upstream: 40, soak: 600 };
let failed = false;
for (const name of chosen) {
  const seconds = Number(opts.seconds ?? defaults[name]);
  const report = await scenarios[name](seconds);
  console.log(JSON.stringify(report, null, 2));
  if (!report.ok) failed = true;
}
console.log(`chaos: ${failed ? 'FAILED' : 'ok'} (logs in ${logDir})`);
process.exit(failed ? 1 : 0);

// npm run chaos -- [--scenario durability|upstream|soak|all] [--seconds N] [--rate N]
// Runs holdq as deployed (api and worker as separate processes, Redis with AOF, the Plivo
// simulator) on loopback, injects faults, and checks the promises: every intent sent is
// accepted, nothing accepted is lost or stuck, no 5xx but 503 reaches the client, repeated
// transfers stay within the at-least-once bound, each call's transfers reach Plivo in its
// line's order, retries stay bounded, memory stays flat.
// Prints a JSON report per scenario (`failed` names each broken invariant); exits 1 when one breaks.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, portOpen, rssMiB, sleep, startNode, startRedis, waitFor, waitHttp } from './lib.mjs';

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
const EXAMPLES = 5;
const logDir = mkdtempSync(join(tmpdir(), 'holdq-chaos-'));

/** Collects broken invariants by name: `check(name, holds, detail)`, then `result()` for the report. */
function invariants() {
  const checked = [];
  const failed = [];
  return {
    check(name, holds, detail) {
      checked.push(name);
      if (!holds) failed.push({ invariant: name, ...detail });
    },
    result: () => ({ ok: failed.length === 0, checked, failed }),
  };
}

const count = (obj, key) => (obj[key] = (obj[key] ?? 0) + 1);
/** Statuses of 500 and up other than 503 (the one 5xx holdq promises during a Redis outage). */
const serverErrors = (statuses) =>
  Object.fromEntries(Object.entries(statuses).filter(([s]) => Number(s) >= 500 && Number(s) !== 503));

async function startCluster(extraEnv = {}) {
  const redis = await startRedis({ aof: process.env.CHAOS_APPENDFSYNC ?? 'always' });
  const [apiPort, workerPort, simPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const sim = startNode(
    ['dist/main.js', 'simulator'],
    {
      SIMULATOR_PORT: String(simPort),
      SIMULATOR_AUTO_CALLS: 'true',
      PLIVO_AUTH_ID: 'CHAOS',
      PLIVO_AUTH_TOKEN: 'chaos-token',
      LOG_LEVEL: 'warn',
    },
    join(logDir, 'simulator.log'),
  );
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
    // The processes inherit this script's environment under `env`: read the setting as they will.
    workerConcurrency: Number({ ...process.env, ...env }.WORKER_CONCURRENCY || 50),
    simUrl,
    api: null,
    worker: null,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    async startApi() {
      // A SIGTERMed API stops listening at once but serves its keep-alive connections until
      // SHUTDOWN_TIMEOUT_MS: a client that keeps them busy is never moved off. 5 s (not 25)
      // puts that forced exit, with requests in flight, inside the load.
      c.api = startNode(['dist/main.js', 'api'], { ...env, SHUTDOWN_TIMEOUT_MS: '5000' }, join(logDir, 'api.log'));
      await waitHttp(`${c.apiUrl}/readyz`);
    },
    /** A rolling restart: SIGTERM the API, start the next one as soon as the port is free; resolves when the old one has exited. */
    async replaceApi(mark) {
      const old = c.api;
      const exited = old.kill('SIGTERM').then(() => mark('old api exited'));
      await waitFor(async () => !(await portOpen(apiPort)), {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'the old api to stop listening',
      });
      await c.startApi();
      mark('new api ready');
      await exited;
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
    sim: (path, body) =>
      fetch(`${simUrl}/_sim${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
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

/**
 * A client that behaves: one Idempotency-Key per intent, retried on 503 and connection errors
 * (bounded: 40 tries of at most 3 s). `stats.statuses` counts every answer; `network` every
 * connection error or timeout, `networkUnresolved` the intents whose errors no later answer
 * accepted; `rejected` the intents refused with another status, `gaveUp` those out of tries.
 */
async function postIntent(c, body, accepted, stats) {
  const key = randomUUID();
  let networkErrors = 0;
  const unaccepted = (outcome, status) => {
    count(stats, outcome);
    if (networkErrors > 0) count(stats, 'networkUnresolved');
    if (stats.examples.length < EXAMPLES) stats.examples.push({ outcome, status, body, networkErrors });
  };
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const res = await fetch(`${c.apiUrl}/v1/intents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(3000),
      });
      count(stats.statuses, res.status);
      if (res.status === 202 || res.status === 200) {
        const r = await res.json();
        accepted.set(r.id, {
          call: body.call_uuid,
          sequence: r.sequence,
          status: res.status,
          at: new Date().toISOString(),
          attempt,
        });
        return;
      }
      await res.arrayBuffer();
      if (res.status !== 503) return unaccepted('rejected', res.status); // another status is final for the client
    } catch {
      networkErrors++;
      count(stats, 'network');
    }
    await sleep(250);
  }
  unaccepted('gaveUp', null);
}

/** Steady load for `seconds` at RATE intents/s over `calls` calls; `at` maps second → fault action. */
async function load(c, seconds, calls, at = {}) {
  const accepted = new Map();
  const stats = { statuses: {}, network: 0, networkUnresolved: 0, rejected: 0, gaveUp: 0, examples: [] };
  const inflight = new Set();
  const types = ['hold', 'unhold', 'enqueue'];
  const started = Date.now();
  let sent = 0;
  const faults = [];
  for (let tick = 0; tick < seconds * 10; tick++) {
    const second = Math.floor(tick / 10);
    if (tick % 10 === 0 && at[second])
      faults.push(at[second]().catch((err) => console.error('fault action failed:', err)));
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
  return { accepted, stats, sent, started };
}

/** Polls every accepted intent until it is terminal (bounded: `timeoutMs`, 5 s a request); `statuses` counts the answers. */
async function drain(c, accepted, timeoutMs) {
  const records = new Map();
  const statuses = {};
  const deadline = Date.now() + timeoutMs;
  let pending = [...accepted.keys()];
  while (pending.length > 0 && Date.now() < deadline) {
    const next = [];
    for (let i = 0; i < pending.length; i += 50) {
      const batch = pending.slice(i, i + 50);
      await Promise.all(
        batch.map(async (id) => {
          try {
            const res = await fetch(`${c.apiUrl}/v1/intents/${id}`, {
              headers: { authorization: `Bearer ${KEY}` },
              signal: AbortSignal.timeout(5000),
            });
            count(statuses, res.status);
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
  return { records, stuck: pending.length, statuses };
}

function summarize(records) {
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
  return { byStatus, errors, maxAttempts, recorded202 };
}

/**
 * Matches every 202 Plivo (the simulator) answered to the intent record holding its api_id.
 * A 202 no record holds is a repeat: Plivo accepted it, holdq never stored it, and the job ran
 * it again. Per call, the sequence numbers of the matched transfers, in the order Plivo
 * received them, must never decrease (an intent's own retries keep its number).
 */
function checkTransfers(records, seen, startedMs) {
  const holder = new Map();
  for (const r of records.values()) for (const t of r.transfers ?? []) if (t.api_id) holder.set(t.api_id, r);
  const accepted = seen.filter((t) => t.status === 202);
  const seenIds = new Set(accepted.map((t) => t.api_id));
  const repeats = [];
  const last = new Map();
  const order = { callsChecked: 0, violations: 0, violatingCalls: 0, examples: [] };
  const violatingCalls = new Set();
  // `index`: the request's place in /_sim/transfers, the order Plivo received them.
  seen.forEach((t, index) => {
    if (t.status !== 202) return;
    const r = t.api_id ? holder.get(t.api_id) : undefined;
    if (!r)
      return void repeats.push({
        index,
        at_s: Math.round((t.at - startedMs) / 100) / 10,
        call_uuid: t.call_uuid,
        aleg_url: t.body?.aleg_url,
      });
    const prev = last.get(r.call_uuid);
    if (prev && r.sequence < prev.sequence) {
      order.violations++;
      violatingCalls.add(r.call_uuid);
      if (order.examples.length < EXAMPLES) {
        order.examples.push({
          call_uuid: r.call_uuid,
          index,
          at_s: Math.round((t.at - startedMs) / 100) / 10,
          sequence: r.sequence,
          intent: r.id,
          after_sequence: prev.sequence,
          after_intent: prev.id,
        });
      }
    }
    last.set(r.call_uuid, r);
  });
  // A recorded api_id Plivo never answered would mean a record that invents its transfers.
  const unanswered = [...holder.keys()].filter((id) => !seenIds.has(id)).length;
  order.callsChecked = last.size;
  order.violatingCalls = violatingCalls.size;
  const repeatsBySecond = {};
  for (const x of repeats) count(repeatsBySecond, Math.floor(x.at_s));
  return {
    seen202: accepted.length,
    matched202: accepted.length - repeats.length,
    repeatedTransfers: repeats.length,
    repeatsBySecond,
    repeatExamples: repeats.slice(0, EXAMPLES),
    recordedApiIdsPlivoNeverAnswered: unanswered,
    order,
  };
}

/** The checks every scenario makes of what the client saw. */
function checkClient(inv, { sent, accepted, stats, polled }) {
  inv.check('every intent sent was accepted', accepted === sent, { sent, accepted, examples: stats.examples });
  inv.check('no 5xx but 503 answered to a POST', Object.keys(serverErrors(stats.statuses)).length === 0, {
    statuses: serverErrors(stats.statuses),
  });
  if (polled)
    inv.check('no 5xx but 503 answered to a GET', Object.keys(serverErrors(polled)).length === 0, {
      statuses: serverErrors(polled),
    });
  inv.check('no intent the client gave up on', stats.gaveUp === 0, { gaveUp: stats.gaveUp });
  inv.check('every connection error resolved by a retry', stats.networkUnresolved === 0, {
    networkUnresolved: stats.networkUnresolved,
    network: stats.network,
  });
}

/** The checks of what reached Plivo and what the records say; `repeatBound` is the at-least-once bound. */
function checkOutcome(inv, { stuck, lost, transfers, repeatBound }) {
  inv.check('nothing accepted is lost', lost === 0, { lost });
  inv.check('nothing accepted is stuck', stuck === 0, { stuck });
  inv.check('repeated transfers within the at-least-once bound', transfers.repeatedTransfers <= repeatBound, {
    repeatedTransfers: transfers.repeatedTransfers,
    bound: repeatBound,
    examples: transfers.repeatExamples,
  });
  inv.check('every recorded api_id was answered by Plivo', transfers.recordedApiIdsPlivoNeverAnswered === 0, {
    count: transfers.recordedApiIdsPlivoNeverAnswered,
  });
  inv.check("each call's transfers reach Plivo in its line's order", transfers.order.violations === 0, transfers.order);
}

/** Drains the accepted intents and reads what Plivo saw, then stops the cluster; both are kept in the log directory. */
async function finishRun(c, name, accepted, started) {
  const { records, stuck, statuses } = await drain(c, accepted, 150_000);
  const seen = await (await fetch(`${c.simUrl}/_sim/transfers`, { signal: AbortSignal.timeout(30_000) })).json();
  await c.stop();
  writeFileSync(join(logDir, `${name}-sim-transfers.json`), JSON.stringify(seen));
  writeFileSync(join(logDir, `${name}-records.json`), JSON.stringify([...records.values()]));
  const summary = summarize(records);
  return {
    records,
    stuck,
    polled: statuses,
    seen,
    summary,
    lost: summary.byStatus.lost ?? 0,
    transfers: checkTransfers(records, seen, started),
  };
}

async function durability(seconds) {
  const c = await startCluster();
  await c.sim('/latency', { ms: 40 }); // transfers are in flight when the worker dies
  const t = (f) => Math.max(1, Math.floor(seconds * f));
  const events = [];
  const kills = { worker: 0, redis: 0 };
  const mark = (what) => events.push({ at_s: Math.round((Date.now() - started) / 100) / 10, what });
  const started = Date.now();
  const { accepted, stats, sent } = await load(c, seconds, 40, {
    [t(0.2)]: async () => {
      mark('kill -9 worker');
      kills.worker++;
      await c.worker.kill('SIGKILL');
      await sleep(2000);
      await c.startWorker();
      mark('worker restarted');
    },
    [t(0.45)]: async () => {
      mark('kill -9 redis');
      kills.redis++;
      await c.restartRedis('SIGKILL');
      mark('redis restarted (AOF replayed)');
    },
    [t(0.7)]: async () => {
      mark('SIGTERM api, start its replacement');
      await c.replaceApi(mark);
    },
  });
  const { records, stuck, polled, summary, lost, transfers } = await finishRun(c, 'durability', accepted, started);
  // A transfer repeats only when a worker or Redis dies between Plivo's 202 and holdq's record
  // of it: at most one per transfer in flight, WORKER_CONCURRENCY of them, per kill.
  const repeatBound = (kills.worker + kills.redis) * c.workerConcurrency;
  const inv = invariants();
  checkClient(inv, { sent, accepted: accepted.size, stats, polled });
  checkOutcome(inv, { stuck, lost, transfers, repeatBound });
  return {
    scenario: 'durability',
    ...inv.result(),
    appendfsync: process.env.CHAOS_APPENDFSYNC ?? 'always',
    seconds,
    rate: RATE,
    sent,
    accepted: accepted.size,
    client: stats,
    polled,
    events,
    terminal: records.size - stuck - lost,
    stuck,
    lost,
    ...summary,
    repeatBound: { kills, workerConcurrency: c.workerConcurrency, bound: repeatBound },
    ...transfers,
  };
}

async function upstream(seconds) {
  const c = await startCluster();
  await c.sim('/chaos', { rate: 0.3, retryAfter: '1' }); // 500, 503, 429+Retry-After, timeout, reset
  const { accepted, stats, sent, started } = await load(c, seconds, 40);
  const { records, stuck, polled, seen, summary, lost, transfers } = await finishRun(c, 'upstream', accepted, started);
  const statusCounts = {};
  for (const t of seen) count(statusCounts, t.status);
  // After a 429 every worker pauses for Retry-After (1 s). Requests already on the wire still
  // land in the first few ms; count the ones that arrive 50–950 ms after each 429.
  const times = seen.map((t) => t.at);
  const after429 = seen
    .filter((t) => t.status === 429)
    .map((t) => times.filter((x) => x > t.at + 50 && x < t.at + 950).length)
    .sort((a, b) => a - b);
  const maxAttempts = Number(c.env.TRANSFER_MAX_ATTEMPTS);
  const inv = invariants();
  checkClient(inv, { sent, accepted: accepted.size, stats, polled });
  // No process dies here, so no 202 can go unrecorded: the bound is 0.
  checkOutcome(inv, { stuck, lost, transfers, repeatBound: 0 });
  inv.check('no intent over TRANSFER_MAX_ATTEMPTS', summary.maxAttempts <= maxAttempts, {
    maxAttempts: summary.maxAttempts,
    bound: maxAttempts,
  });
  return {
    scenario: 'upstream',
    ...inv.result(),
    seconds,
    rate: RATE,
    sent,
    accepted: accepted.size,
    client: stats,
    polled,
    plivoAnswers: statusCounts,
    terminal: records.size - stuck - lost,
    stuck,
    lost,
    ...summary,
    repeatBound: { kills: 'none', bound: 0 },
    ...transfers,
    requests_50_950ms_after_a_429: {
      median: after429[Math.floor(after429.length / 2)] ?? null,
      max: after429.at(-1) ?? null,
      of: after429.length,
    },
  };
}

async function soak(seconds) {
  const c = await startCluster({ INTENT_RETENTION_SECONDS: '60' });
  const samples = [];
  const started = Date.now();
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
  const { accepted, stats, sent } = await load(c, seconds, Math.ceil((seconds * RATE) / 30));
  clearInterval(sampler);
  // Finished intents expire after 60 s here, so records (and the transfers they list) are gone
  // by the end: the soak checks the client and what is stuck, not repeats or order.
  const { stuck, statuses: polled } = await drain(c, accepted, 120_000);
  await c.stop();
  const third = Math.max(1, Math.floor(samples.length / 3));
  const avg = (xs, k) => xs.reduce((a, s) => a + s[k], 0) / Math.max(xs.length, 1);
  const mid = samples.slice(third, 2 * third);
  const last = samples.slice(-third);
  const growth = (k) => Math.round((avg(last, k) / avg(mid, k)) * 100) / 100;
  const inv = invariants();
  checkClient(inv, { sent, accepted: accepted.size, stats, polled });
  inv.check('nothing accepted is stuck', stuck === 0, { stuck });
  inv.check('Redis keys flat (last third under 1.2x the middle third)', growth('redis_keys') < 1.2, {
    growth: growth('redis_keys'),
  });
  inv.check('API RSS flat (under 1.3x)', growth('api_rss_mib') < 1.3, { growth: growth('api_rss_mib') });
  inv.check('worker RSS flat (under 1.3x)', growth('worker_rss_mib') < 1.3, { growth: growth('worker_rss_mib') });
  return {
    scenario: 'soak',
    ...inv.result(),
    seconds,
    rate: RATE,
    sent,
    accepted: accepted.size,
    client: stats,
    polled,
    stuck,
    retention_seconds: 60,
    growth_last_third_vs_middle_third: {
      api_rss: growth('api_rss_mib'),
      worker_rss: growth('worker_rss_mib'),
      redis_keys: growth('redis_keys'),
    },
    samples,
  };
}

/**
 * Call me back (SPEC §10) through the failures it must survive:
 * - kill -9 of the worker between Make Call and the answer: every customer who answers still
 *   reaches the agent's room (the API bridges them; the re-run dequeue finishes), and a customer
 *   who does not answer gets its place back while the agent is moved on (released: nobody else
 *   waits). Never both lost, and no number is dialled twice.
 * - kill -9 of Redis (AOF) with callback members waiting: none is lost; each is still a callback
 *   member in its place, and is called back afterwards.
 */
async function callbacks() {
  const c = await startCluster({
    CALLBACK_CALLER_ID: '+15550100000',
    CALLBACK_RING_SECONDS: '3',
    // Not offered again within the run: a member not reached must be found back in its place.
    CALLBACK_RETRY_SECONDS: '300',
    CALLBACK_ATTEMPTS: '3',
    RECONCILE_INTERVAL_SECONDS: '0',
  });
  const started = Date.now();
  const events = [];
  const mark = (what) => events.push({ at_s: Math.round((Date.now() - started) / 100) / 10, what });
  const api = async (method, path, body) => {
    const res = await fetch(`${c.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  const finished = async (id, timeoutMs) => {
    let r = null;
    await waitFor(
      async () => {
        r = (await api('GET', `/v1/intents/${id}`)).body;
        return r && TERMINAL.has(r.status);
      },
      { timeoutMs, intervalMs: 250, what: `intent ${id} to finish` },
    );
    return r;
  };
  const run = async (body, timeoutMs = 20_000) => finished((await api('POST', '/v1/intents', body)).body.id, timeoutMs);
  const simGet = async (path) => (await fetch(`${c.simUrl}/_sim${path}`)).json();
  const inv = invariants();

  // Phase 1: the worker dies while the call-backs ring. Half are answered, half are not.
  const n = 8;
  const members = Array.from({ length: n }, (_, i) => ({
    call: `cbk-${i}`,
    queue: `cbk-q${i}`,
    agent: `cbk-agent-${i}`,
  }));
  for (const [i, m] of members.entries()) {
    await run({ type: 'enqueue', call_uuid: m.call, queue: m.queue });
    await run({ type: 'callback', call_uuid: m.call, queue: m.queue, number: `+1415555020${i}` });
  }
  await c.sim('/ring', { ms: 2500 });
  // The odd members' calls go unanswered (the simulator places calls in order: one fault each).
  const dequeues = [];
  for (const [i, m] of members.entries()) {
    if (i % 2 === 1) await c.sim('/dial-faults', { outcome: 'no-answer' });
    dequeues.push(
      (await api('POST', '/v1/intents', { type: 'dequeue', queue: m.queue, agent_call_uuid: m.agent })).body.id,
    );
    await waitFor(async () => (await simGet('/dials')).length >= i + 1, { timeoutMs: 10_000, what: `call back ${i}` });
  }
  mark('all call-backs placed; kill -9 worker');
  await c.worker.kill('SIGKILL');
  await sleep(4000); // every call rings out or is answered while no worker runs
  await c.startWorker();
  mark('worker restarted');
  const records = await Promise.all(dequeues.map((id) => finished(id, 120_000).catch(() => null)));
  mark('every dequeue finished');
  const dials = await simGet('/dials');
  const outcomes = [];
  for (const [i, m] of members.entries()) {
    const r = records[i];
    const mine = dials.filter((d) => d.to === `+1415555020${i}`);
    const member = (await api('GET', `/v1/calls/${m.call}`)).body;
    const agent = await simGet(`/calls/${m.agent}`);
    const queue = (await api('GET', `/v1/queues/${m.queue}`)).body;
    const agentXml = agent.current?.xml ?? '';
    const answered = mine[0]?.status === 'answered';
    const customerXml = answered ? ((await simGet(`/calls/${mine[0].call_uuid}`)).current?.xml ?? '') : '';
    const room = `holdq-${m.call}`;
    const o = {
      member: m.call,
      dequeue: r?.status ?? 'unfinished',
      error: r?.error?.code ?? null,
      dials: mine.length,
      dial: mine[0]?.status ?? null,
      member_state: member?.state ?? null,
      still_waiting: (queue?.members ?? []).some((x) => x.call_uuid === m.call && x.callback),
      agent_in:
        /<Conference[^>]*>([^<]+)<\/Conference>/.exec(agentXml)?.[1] ?? (agentXml.includes('<Wait') ? 'idle' : null),
      customer_in: /<Conference[^>]*>([^<]+)<\/Conference>/.exec(customerXml)?.[1] ?? null,
    };
    outcomes.push(o);
    // Connected: customer and agent in one room, the dequeue completed. Not reached: the member
    // waits again, the agent was moved out of the connecting room.
    const connected =
      answered &&
      o.customer_in === room &&
      o.agent_in === room &&
      o.member_state === 'bridged' &&
      o.dequeue === 'completed';
    const backInLine =
      !answered && o.still_waiting && o.member_state === 'callback' && o.agent_in === 'idle' && o.dequeue === 'failed';
    inv.check(`call-back ${i}: connected, or back in line with the agent released`, connected || backInLine, o);
    inv.check(`call-back ${i}: dialled once`, mine.length === 1, o);
  }
  // Phase 2: Redis dies (kill -9) with callback members waiting; AOF brings them back.
  const kept = Array.from({ length: 4 }, (_, i) => ({ call: `cbr-${i}`, queue: 'cbr' }));
  for (const [i, m] of kept.entries()) {
    await run({ type: 'enqueue', call_uuid: m.call, queue: m.queue });
    await run({ type: 'callback', call_uuid: m.call, queue: m.queue, number: `+1415555030${i}` });
  }
  const before = (await api('GET', '/v1/queues/cbr')).body.members;
  mark('kill -9 redis');
  await c.restartRedis('SIGKILL');
  mark('redis restarted (AOF replayed)');
  let after = null;
  await waitFor(
    async () => {
      after = (await api('GET', '/v1/queues/cbr').catch(() => ({ status: 0 }))).body?.members ?? null;
      return after !== null;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'the API to read Redis again' },
  );
  const same = (xs) => xs.map((x) => `${x.position}:${x.call_uuid}:${x.callback}`).join(',');
  inv.check('no callback member lost across a Redis restart', same(after) === same(before), { before, after });
  await c.sim('/ring', { ms: 200 });
  const served = await run({ type: 'dequeue', queue: 'cbr', agent_call_uuid: 'cbr-agent' }, 30_000);
  const last = (await simGet('/dials')).at(-1);
  inv.check(
    'a callback member is called back after the restart, at its number',
    served.status === 'completed' && served.call_uuid === 'cbr-0' && last?.to === '+14155550300',
    {
      served: { status: served.status, call_uuid: served.call_uuid, error: served.error },
      to: last?.to,
    },
  );
  await c.stop();
  return { scenario: 'callbacks', ...inv.result(), events, outcomes };
}

const scenarios = { durability, upstream, soak, callbacks };
const chosen = opts.scenario === 'all' ? ['durability', 'upstream', 'callbacks'] : opts.scenario.split(',');
const defaults = { durability: 40, upstream: 40, soak: 600, callbacks: 0 };
let failed = false;
for (const name of chosen) {
  const seconds = Number(opts.seconds ?? defaults[name]);
  const report = await scenarios[name](seconds);
  console.log(JSON.stringify(report, null, 2));
  console.log(`chaos: ${name} ${report.ok ? 'ok' : `FAILED: ${report.failed.map((f) => f.invariant).join('; ')}`}`);
  if (!report.ok) failed = true;
}
console.log(`chaos: ${failed ? 'FAILED' : 'ok'} (logs in ${logDir})`);
process.exit(failed ? 1 : 0);

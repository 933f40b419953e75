// npm run build && node bench/queue-flood.mjs [--queues N] [--lookups N]
// The hostile tester's queue flood, against holdq as deployed (api + worker in one process, a
// private Redis, a fake Plivo, all on loopback): N enqueues to N distinct on-demand queue names,
// then what it costs: the size and time of GET /v1/queues, the size of /metrics and its number of
// holdq_queue_callers series, and `lookups` GETs of unknown queues with /livez's latency meanwhile.
// Every loop is bounded in count and time. Prints one JSON report.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakePlivo } from './fake-plivo.mjs';
import { BENCH_KEY, benchEnv, freePort, percentile, startNode, startRedis, waitFor, waitHttp } from './lib.mjs';

const { values: opts } = parseArgs({
  options: { queues: { type: 'string', default: '3000' }, lookups: { type: 'string', default: '400' } },
});
const QUEUES = Number(opts.queues);
const LOOKUPS = Number(opts.lookups);
const auth = { authorization: `Bearer ${BENCH_KEY}` };

const redis = await startRedis();
const plivo = await startFakePlivo();
const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
const api = `http://127.0.0.1:${port}`;
const holdq = startNode(
  ['dist/main.js', 'all'],
  benchEnv({ redisUrl: redis.url, plivoUrl: plivo.url, port, metricsPort, LOG_LEVEL: 'warn' }),
  join(mkdtempSync(join(tmpdir(), 'holdq-flood-')), 'holdq.log'),
);
try {
  await waitHttp(`${api}/readyz`);
  const tag = Date.now().toString(36);
  for (let i = 0; i < QUEUES; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, QUEUES - i) }, (_, j) =>
        fetch(`${api}/v1/intents`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'enqueue', call_uuid: `flood-${tag}-${i + j}`, queue: `q${tag}-${i + j}` }),
        }).then((r) => r.arrayBuffer()),
      ),
    );
  }
  await waitFor(async () => plivo.received.length >= QUEUES, { timeoutMs: 120_000, what: `${QUEUES} transfers` });

  const timed = async (url, headers = {}) => {
    const started = performance.now();
    const res = await fetch(url, { headers });
    const body = await res.text();
    return { status: res.status, bytes: body.length, ms: Math.round((performance.now() - started) * 10) / 10, body };
  };
  const list = await timed(`${api}/v1/queues`, auth);
  const metrics = await timed(`${api}/metrics`);
  const series = metrics.body.split('\n').filter((l) => l.startsWith('holdq_queue_callers{')).length;

  // Unknown-queue lookups, ten at a time, while /livez is sampled.
  const livez = [];
  let done = false;
  const sampler = (async () => {
    for (let i = 0; i < 10_000 && !done; i++) {
      livez.push((await timed(`${api}/livez`)).ms);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const started = performance.now();
  const statuses = {};
  for (let i = 0; i < LOOKUPS; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, LOOKUPS - i) }, (_, j) => timed(`${api}/v1/queues/nosuch-${i + j}`, auth)),
    );
    for (const r of batch) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  const lookupsMs = Math.round(performance.now() - started);
  done = true;
  await sampler;
  livez.sort((a, b) => a - b);
  console.log(
    JSON.stringify(
      {
        queues: QUEUES,
        list: {
          status: list.status,
          bytes: list.bytes,
          ms: list.ms,
          items: JSON.parse(list.body).items.length,
          next_cursor: JSON.parse(list.body).next_cursor ?? null,
        },
        metrics: { bytes: metrics.bytes, ms: metrics.ms, holdq_queue_callers_series: series },
        unknown_lookups: { n: LOOKUPS, statuses, total_ms: lookupsMs },
        livez_during_lookups_ms: { n: livez.length, p50: percentile(livez, 50), p99: percentile(livez, 99) },
      },
      null,
      2,
    ),
  );
} finally {
  await holdq.kill('SIGTERM');
  await plivo.stop();
  await redis.kill();
  redis.cleanup();
}

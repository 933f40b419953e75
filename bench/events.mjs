// The event-stream measurement of `npm run bench -- --only events`: how many `GET /v1/events`
// streams one holdq API process holds, what each costs in memory, and how late events arrive.
//
// One API and one worker (separate processes, one Redis, a fast fake Plivo). After a short
// warm-up load the API's RSS is read with no stream open; then `streams` streams are opened
// (each its own TCP connection, bench/sse.mjs), a probe hold is posted, and every stream must
// receive its events; the API's RSS is read again (the difference ÷ streams is the memory per
// stream). Then, for each of four set-ups, hold intents are posted at a steady rate for a few
// seconds (each hold makes three events: intent.accepted, call.held, intent.completed, so 200
// holds make 600 events), and every event's latency is taken on every receiving stream: from the
// time in its id (`<ms>-<seq>`, the Redis time of the change) to Date.now() when the chunk
// holding it arrived at the client (same machine, same clock). The set-ups, in this order:
// `small` streams alone at 200 events/s; every stream open but only `small` of them receiving
// (the rest filtered to a call that never happens, so the API still matches each event against
// every stream) at 200/s; every stream receiving everything (the widest fan-out) at 50/s, then
// at 200/s, last, as it is the run that can take the API down (reported, not fatal to the
// bench). Bounded in count and time; loopback.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakePlivo } from './fake-plivo.mjs';
import { BENCH_KEY, cpuMs, peakRssMiB, round2, rssMiB, sleep, waitFor } from './lib.mjs';
import { idMs, openSse } from './sse.mjs';

export function eventsShape(quick) {
  return {
    streams: 1000,
    small: 50,
    eventsPerSecond: 200,
    /** Every stream receiving everything is also run at this lower rate. */
    lowEventsPerSecond: 50,
    eventsPerHold: 3,
    seconds: quick ? 5 : 10,
    warmupSeconds: 3,
    openBatch: 50,
    /** The p99 target (ms). */
    p99TargetMs: 250,
  };
}

/** A latency histogram in whole ms (the clocks' resolution), up to a minute. */
function histogram() {
  const bins = new Uint32Array(60_001);
  let n = 0;
  let negative = 0;
  return {
    add(ms) {
      if (ms < 0) negative++;
      bins[Math.min(60_000, Math.max(0, ms))]++;
      n++;
    },
    get count() {
      return n;
    },
    get negative() {
      return negative;
    },
    percentile(p) {
      if (n === 0) return null;
      const want = Math.max(1, Math.ceil((p / 100) * n));
      let seen = 0;
      for (let i = 0; i < bins.length; i++) if ((seen += bins[i]) >= want) return i;
      return null;
    },
    max() {
      for (let i = bins.length - 1; i >= 0; i--) if (bins[i] > 0) return i;
      return null;
    },
  };
}

async function metricsOf(apiUrl) {
  const text = await (await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const read = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  const heap = read('nodejs_heap_size_used_bytes');
  return { streams: read('holdq_event_streams'), heapMiB: heap === null ? null : round2(heap / 2 ** 20) };
}

/** The V8 fatal error (e.g. "heap out of memory") at the end of the API's log, if any. */
function fatalLine(logDir) {
  if (!logDir) return null;
  try {
    const text = readFileSync(join(logDir, 'holdq-api.log'), 'utf8').slice(-20_000);
    return /FATAL ERROR: [^\n]*/.exec(text)?.[0] ?? null;
  } catch {
    return null;
  }
}

/** `logDir`: where sides.mjs writes the API's log (for why it exited, if it does). */
export async function eventsSide(sides, shape, { logDir } = {}) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo();
    // Every stream here is one key's: its per-key bound (EVENTS_MAX_STREAMS_PER_KEY, 100) is raised
    // with the process's, or the bench would measure the bound.
    const cap = String(2 * shape.streams + 100);
    const env = await sides.holdqEnv(redis, plivo, { EVENTS_MAX_STREAMS: cap, EVENTS_MAX_STREAMS_PER_KEY: cap });
    let api;
    let worker;
    const open = new Set();
    const problems = [];
    let sampler;
    try {
      worker = await sides.holdqWorker(env);
      api = await sides.holdqApi(env);
      const auth = { authorization: `Bearer ${BENCH_KEY}` };
      const intents = `${api.url}/v1/intents`;
      const holdsPerSecond = shape.eventsPerSecond / shape.eventsPerHold;
      const allTransfers = (sent, what) =>
        waitFor(
          () => {
            const calls = new Set(plivo.received.map(([, call]) => call));
            return [...sent.keys()].every((c) => calls.has(c));
          },
          { timeoutMs: 60_000, intervalMs: 100, what },
        );

      // What every stream does with an event: the probe seen, and while a run records, the latency.
      let rec = null; // { since, hist, counts: Map(stream → n) }
      const openStreams = async (n, query, tag) => {
        const made = [];
        for (let i = 0; i < n; i += shape.openBatch) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(shape.openBatch, n - i) }, async () => {
              const st = { tag, probe: false, n: 0, s: null };
              st.s = await openSse(`${api.url}/v1/events${query}`, {
                headers: auth,
                onEvent: ({ id, data }, at) => {
                  if (!st.probe && data.includes('"probe-')) st.probe = true;
                  if (rec && id !== null) {
                    const t = idMs(id);
                    if (t >= rec.since) {
                      rec.hist.add(at - t);
                      st.n++;
                      if (t < rec.firstId) rec.firstId = t;
                      if (t > rec.lastId) rec.lastId = t;
                      if (at < rec.firstAt) rec.firstAt = at;
                      if (at > rec.lastAt) rec.lastAt = at;
                    }
                  }
                },
              });
              return st;
            }),
          );
          for (const st of batch) {
            if (st.s.status === 200) open.add(st);
            else problems.push(`a ${tag} stream was answered ${st.s.status}: ${String(st.s.body).slice(0, 200)}`);
          }
          made.push(...batch.filter((st) => st.s.status === 200));
        }
        return made;
      };
      const closeStreams = async (list) => {
        for (const st of list) {
          st.s.close();
          open.delete(st);
        }
        await Promise.race([Promise.all(list.map((st) => st.s.closed)), sleep(5000)]);
      };

      /** Whether the API process still runs (a run at the widest fan-out can take it down). */
      const alive = () => api.child.exitCode === null && api.child.signalCode === null;
      const cpuOf = (pid) => {
        try {
          return cpuMs(pid);
        } catch {
          return null;
        }
      };
      // The API's peak RSS, sampled: VmHWM cannot be read once the process is gone.
      let apiPeak = 0;
      const samplePeak = () => {
        try {
          apiPeak = Math.max(apiPeak, peakRssMiB(api.pid));
        } catch {
          // gone
        }
      };
      sampler = setInterval(samplePeak, 250);

      /** Holds at `rate` a second for `seconds` in 50 ms ticks (never waiting on answers); the 202s' calls. */
      const postSteady = async (rate, seconds, prefix) => {
        const sent = new Map();
        const answers = {};
        const inflight = [];
        const started = performance.now();
        let i = 0;
        for (let tick = 0; tick < seconds * 20 && alive(); tick++) {
          for (const due = Math.floor(((tick + 1) / 20) * rate); i < due; i++) {
            const call = `${prefix}-${i}`;
            inflight.push(
              fetch(intents, {
                method: 'POST',
                headers: { 'content-type': 'application/json', ...auth },
                body: JSON.stringify({ type: 'hold', call_uuid: call }),
                signal: AbortSignal.timeout(30_000),
              })
                .then(async (r) => (await r.arrayBuffer(), r.status))
                .catch((err) => err.cause?.code ?? err.name)
                .then((status) => {
                  answers[status] = (answers[status] ?? 0) + 1;
                  if (status === 202) sent.set(call, true);
                }),
            );
          }
          await sleep(Math.max(0, started + (tick + 1) * 50 - performance.now()));
        }
        await Promise.all(inflight);
        return { sent, answers, posted: i, tookS: (performance.now() - started) / 1000 };
      };

      /** One latency run: holds at `eventsPerSecond` ÷ 3 a second; every receiving stream's latencies. */
      const latencyRun = async (name, receiving, eventsPerSecond) => {
        await sleep(1000);
        if (!alive()) return { name, skipped: 'the API process had exited' };
        for (const st of receiving) st.n = 0;
        const hist = histogram();
        const since = Date.now();
        rec = { since, hist, firstId: Infinity, lastId: -Infinity, firstAt: Infinity, lastAt: -Infinity };
        const cpu0 = {
          client: process.cpuUsage(),
          api: cpuOf(api.pid),
          worker: cpuOf(worker.pid),
          redis: cpuOf(redis.pid),
        };
        const t0 = performance.now();
        const load = await postSteady(eventsPerSecond / shape.eventsPerHold, shape.seconds, `lat-${name}`);
        try {
          await waitFor(
            () => {
              if (!alive()) return true;
              const calls = new Set(plivo.received.map(([, call]) => call));
              return [...load.sent.keys()].every((c) => calls.has(c));
            },
            { timeoutMs: 60_000, intervalMs: 100, what: 'transfers' },
          );
        } catch {
          problems.push(`${name}: not every accepted hold reached the fake Plivo within 60 s`);
        }
        // Every receiving stream has every event of the run (three per hold), or none arrived for 2 s (bounded).
        const expected = load.sent.size * shape.eventsPerHold;
        let last = -1;
        let still = 0;
        for (let i = 0; i < 600 && alive(); i++) {
          if (receiving.every((st) => st.n >= expected)) break;
          const total = receiving.reduce((n, st) => n + st.n, 0);
          still = total === last ? still + 1 : 0;
          if (still >= 20) break;
          last = total;
          await sleep(100);
        }
        await sleep(200);
        const wall = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0.client);
        const pct = (a, b) => (a === null || b === null ? null : Math.round(((b - a) / 1000 / wall) * 100));
        const { firstId, lastId, firstAt, lastAt } = rec;
        rec = null;
        const per = receiving.map((st) => st.n);
        const most = Math.max(...per);
        const died = alive()
          ? null
          : { exit_code: api.child.exitCode, signal: api.child.signalCode, log: fatalLine(logDir) };
        if (died)
          problems.push(
            `${name}: the API process exited (${died.signal ?? `code ${died.exit_code}`}): ${died.log ?? 'see its log'}`,
          );
        return {
          name,
          streams_open: open.size,
          streams_receiving: receiving.length,
          events_per_second_planned: eventsPerSecond,
          holds: load.sent.size,
          post_answers: load.answers,
          posting_took_s: round2(load.tookS),
          events_expected_per_stream: expected,
          events_per_stream: { min: Math.min(...per), max: most },
          // Rates as they happened: events by their Redis times, deliveries by their arrival times.
          events_span_s: round2((lastId - firstId) / 1000),
          events_per_second: Math.round(most / Math.max(0.001, (lastId - firstId) / 1000)),
          deliveries: hist.count,
          deliveries_per_second: Math.round(hist.count / Math.max(0.001, (lastAt - firstAt) / 1000)),
          streams_short: per.filter((x) => x < expected).length,
          streams_ended: receiving.filter((st) => st.s.ended).length,
          took_s: round2(wall),
          p50_ms: hist.percentile(50),
          p90_ms: hist.percentile(90),
          p99_ms: hist.percentile(99),
          max_ms: hist.max(),
          negative_latencies: hist.negative,
          api_died: died,
          api_peak_rss_mib_so_far: (samplePeak(), apiPeak),
          cpu_percent: {
            client: Math.round(((cpu.user + cpu.system) / 1000 / 1000 / wall) * 100),
            api: pct(cpu0.api, cpuOf(api.pid)),
            worker: pct(cpu0.worker, cpuOf(worker.pid)),
            redis: pct(cpu0.redis, cpuOf(redis.pid)),
          },
        };
      };

      // ---- warm-up, then the API with no stream ----
      const warm = await postSteady(holdsPerSecond, shape.warmupSeconds, 'warm');
      await allTransfers(warm.sent, 'the warm-up transfers');
      await sleep(2000);
      const idle = { rssMiB: round2(await rssMiB(api.pid)), ...(await metricsOf(api.url)) };

      // ---- every stream open, a probe through all of them ----
      const openStarted = performance.now();
      const all = await openStreams(shape.streams, '', 'unfiltered');
      const openMs = Math.round(performance.now() - openStarted);
      await sleep(500);
      const probeAt = Date.now();
      const probe = await fetch(intents, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ type: 'hold', call_uuid: 'probe-1' }),
      });
      await probe.arrayBuffer();
      if (probe.status !== 202) problems.push(`the probe hold was answered ${probe.status}`);
      try {
        await waitFor(() => all.every((st) => st.probe), { timeoutMs: 30_000, intervalMs: 50, what: 'the probe' });
      } catch {
        problems.push('not every stream received the probe within 30 s');
      }
      const probeMs = Date.now() - probeAt;
      await sleep(2000);
      const full = { rssMiB: round2(await rssMiB(api.pid)), ...(await metricsOf(api.url)) };
      const held = {
        requested: shape.streams,
        open: all.filter((st) => st.s.status === 200 && !st.s.ended).length,
        received_probe: all.filter((st) => st.probe).length,
        server_gauge: full.streams,
        open_took_ms: openMs,
        probe_reached_all_ms: probeMs,
      };
      const perStreamKiB = (x) => (x === null ? null : Math.round(((x * 1024) / Math.max(1, held.open)) * 10) / 10);

      // ---- latency: the small set alone; all open, the small set receiving; all receiving, at a
      // low rate and at the full one (last: the widest fan-out is the run that can take the API down) ----
      const runs = [];
      const small = all.slice(0, shape.small);
      await closeStreams(all.slice(shape.small));
      runs.push(await latencyRun(`small-${shape.small}`, small, shape.eventsPerSecond));
      const idleOnes = await openStreams(shape.streams - shape.small, '?call_uuid=bench-nobody', 'filtered');
      await sleep(500);
      const gauge = (await metricsOf(api.url)).streams;
      runs.push({
        ...(await latencyRun(`small-${shape.small}-of-${shape.streams}`, small, shape.eventsPerSecond)),
        server_gauge: gauge,
      });
      await closeStreams(idleOnes);
      const everyone = [...small, ...(await openStreams(shape.streams - shape.small, '', 'unfiltered'))];
      for (const rate of [shape.lowEventsPerSecond, shape.eventsPerSecond])
        runs.push(await latencyRun(`all-${shape.streams}-at-${rate}`, everyone, rate));
      await closeStreams([...open]);
      samplePeak();

      return {
        shape,
        held,
        memory: {
          idle,
          with_streams: full,
          rss_per_stream_kib: perStreamKiB(full.rssMiB - idle.rssMiB),
          heap_per_stream_kib:
            full.heapMiB !== null && idle.heapMiB !== null ? perStreamKiB(full.heapMiB - idle.heapMiB) : null,
        },
        runs,
        problems,
        api_survived: alive(),
        peak_rss_mib: { api: apiPeak, worker: peakRssMiB(worker.pid) },
      };
    } finally {
      clearInterval(sampler);
      for (const st of open) st.s.close();
      await api?.kill();
      await worker?.kill();
      await plivo.stop();
    }
  });
}

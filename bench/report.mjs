// The report of `npm run bench`: markdown built only from what the run measured (and the
// run's own facts: machine, versions, command), and the targets, each PASS or FAIL as issue 15
// defines it. No hand-kept text goes in here; that lives in bench/findings.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** Problems as a list, each once with its count (a bound hit by every stream is one line, not a thousand). */
function problemList(problems) {
  if (problems.length === 0) return 'none';
  const counts = new Map();
  for (const p of problems) {
    const key = p.replace(/urn:request:[0-9a-f-]+/g, 'urn:request:…');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([p, n]) => (n > 1 ? `${p} (×${n})` : p)).join('; ');
}

/** The RSS target, 150 MB, in MiB. */
const RSS_TARGET_MIB = 143;

const each = (m) => `(rounds: ${m.ratios.join(', ')})`;
const roundNo = (m) => `round ${m.index + 1}`;
const fmt = (x, unit = '') => (x === null || x === undefined ? '—' : `${x}${unit}`);
const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 1000) / 10} %`);
/** An event-stream latency run's set-up, in words. */
const runSetup = (r) =>
  r.skipped
    ? `${r.name} (not run: ${r.skipped})`
    : r.streams_open === r.streams_receiving
      ? `${r.streams_receiving} streams, all receiving every event, at ${r.events_per_second_planned} events/s`
      : `${r.streams_open} streams open, ${r.streams_receiving} receiving every event (the rest filtered to a call that never happens), at ${r.events_per_second_planned} events/s`;
/** Why a run's figures do not count, if they do not. */
const runTrouble = (r) =>
  [
    r.skipped ? `not run: ${r.skipped}` : null,
    r.api_died
      ? `the API process died (${r.api_died.signal ?? `exit code ${r.api_died.exit_code}`}${r.api_died.log ? `: ${r.api_died.log}` : ''})`
      : null,
    r.streams_short ? `${r.streams_short} streams short of events` : null,
    r.streams_ended ? `${r.streams_ended} streams ended` : null,
  ]
    .filter(Boolean)
    .join('; ');

/** What holdq build was measured: its package version and commit, when the directory is a checkout. */
function buildFacts(holdqDir, main) {
  const facts = { main };
  const pkg = join(holdqDir, 'package.json');
  if (existsSync(pkg)) facts.version = JSON.parse(readFileSync(pkg, 'utf8')).version;
  try {
    const git = (...args) => execFileSync('git', ['-C', holdqDir, ...args], { encoding: 'utf8' }).trim();
    facts.commit = git('rev-parse', '--short', 'HEAD');
    facts.srcModified = git('status', '--porcelain', '--', join(git('rev-parse', '--show-toplevel'), 'src')) !== '';
  } catch {
    // not a git checkout: the path alone names the build
  }
  return facts;
}

function machineFacts() {
  const cpus = os.cpus();
  const redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
  return `${cpus.length} cores (${cpus[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; Node ${process.version}; ${redis}`;
}

/** Every target the run can judge, from the measurements it made. */
function judge(results) {
  const t = [];
  const add = (name, pass, measured) => t.push({ name, pass, measured });
  const a = results.accept;
  if (a) {
    add(
      'accept: holdq API ≥ 0.8× the bare API (accepted intents/s, same node flags)',
      a.throughput.ratio >= 0.8 && a.non2xx_and_errors === 0,
      `${a.throughput.ratio} ${each(a.throughput)}; intents per CPU-second ${a.per_cpu.ratio}` +
        (a.non2xx_and_errors ? `; RUN INVALID: ${a.non2xx_and_errors} non-2xx answers or errors` : ''),
    );
  }
  const w = results.worker;
  if (w?.['150ms']) {
    const m = w['150ms'].throughput;
    add('worker at a 150 ms Plivo: ≥ 0.9× the bare worker (transfers/s)', m.ratio >= 0.9, `${m.ratio} ${each(m)}`);
  }
  const e = results.e2e;
  if (e) {
    add('end to end at 200/s: p50 ≤ 1.5× the bare pipeline', e.p50.ratio <= 1.5, `${e.p50.ratio} ${each(e.p50)}`);
    add('end to end at 200/s: p99 ≤ 1.5× the bare pipeline', e.p99.ratio <= 1.5, `${e.p99.ratio} ${each(e.p99)}`);
  }
  const r = results.rate;
  if (r) {
    add(
      `rate: ≤ ${r.plivo_max_rps} transfers in any 1 s (PLIVO_MAX_RPS=${r.plivo_max_rps})`,
      r.max_in_any_1s_window <= r.plivo_max_rps,
      `${r.max_in_any_1s_window}`,
    );
    add('rate: 0 429s', r.http_429 === 0, `${r.http_429}`);
    add('rate: drain ≤ 1.05× ideal', r.drain_vs_ideal <= 1.05, `${r.drain_vs_ideal}`);
  }
  const f = results.fairness;
  if (f) {
    const h = f.holdq;
    const max = f.shape.maxRps;
    add(
      'fairness: desk holds p99 ≤ 1 s',
      h.desk_p99_ms !== null && h.desk_p99_ms <= 1000,
      `${fmt(h.desk_p99_ms, ' ms')}`,
    );
    add(
      'fairness: desk holds p99 ≤ 0.03× the FIFO pipeline’s',
      f.desk_p99_ratio !== null && f.desk_p99_ratio <= 0.03,
      `${fmt(f.desk_p99_ratio)} (${fmt(h.desk_p99_ms, ' ms')} / ${fmt(f.baseline.desk_p99_ms, ' ms')})`,
    );
    add(`fairness: ≤ ${max} transfers in any 1 s`, h.max_in_any_1s_window <= max, `${h.max_in_any_1s_window}`);
    add('fairness: 0 429s', h.http_429 === 0, `${h.http_429}`);
    add(
      'fairness: bulk drain ≤ 1.05× ideal',
      h.drain_vs_ideal !== null && h.drain_vs_ideal <= 1.05,
      `${fmt(h.drain_vs_ideal)} (${fmt(h.drain_s, ' s')} against ${h.ideal_drain_s} s)`,
    );
  }
  const est = results.estimate;
  if (est) {
    const o = est.overall;
    add(
      'estimate: holdq’s mean absolute error ≤ 0.5× Asterisk’s announce-holdtime',
      est.holdq_vs_asterisk !== null && est.holdq_vs_asterisk <= 0.5,
      `${fmt(est.holdq_vs_asterisk)} (holdq ${fmt(o.holdq.mae_s, ' s')}, Asterisk ${fmt(o.asterisk.mae_s, ' s')}; ` +
        `position × interval ${fmt(o.interval.mae_s, ' s')} = ${fmt(est.interval_vs_asterisk)}×, not judged)`,
    );
    const w = est.after_warmup;
    add(
      `estimate: holdq has an estimate for ≥ 90 % of callers joining after the first ${est.shape.warmupS} s`,
      w.holdq.coverage !== null && w.holdq.coverage >= 0.9,
      `${pct(w.holdq.coverage)} (${w.holdq.with_estimate} of ${w.callers})`,
    );
  }
  const ev = results.events;
  if (ev) {
    const h = ev.held;
    add(
      `events: ${h.requested} streams held by one API process, each receiving the probe`,
      h.open >= h.requested && h.received_probe >= h.requested,
      `${h.open} open, ${h.received_probe} received the probe (the API's gauge: ${fmt(h.server_gauge)})`,
    );
    for (const r of ev.runs) {
      const trouble = runTrouble(r);
      add(
        `events: p99 latency ≤ ${ev.shape.p99TargetMs} ms, ${runSetup(r)}`,
        !trouble && r.p99_ms !== null && r.p99_ms <= ev.shape.p99TargetMs,
        `${fmt(r.p99_ms, ' ms')} (p50 ${fmt(r.p50_ms, ' ms')})${trouble ? `; ${trouble}` : ''}`,
      );
    }
  }
  const peaks = rssPeaks(results);
  if (peaks.length > 0) {
    const top = Math.max(...peaks.map(([, v]) => v));
    add(`memory: peak RSS of any holdq process ≤ 150 MB (${RSS_TARGET_MIB} MiB)`, top <= RSS_TARGET_MIB, `${top} MiB`);
  }
  return t;
}

/** [where, MiB] for every holdq process (as the image runs it) the run measured, in any round. */
function rssPeaks(results) {
  const peaks = [];
  const { accept: a, e2e: e, worker: w, fairness: f } = results;
  a?.rounds.forEach((r, i) => peaks.push([`accept round ${i + 1} api`, r.holdq.peak_rss_mib]));
  e?.rounds.forEach((r, i) => {
    peaks.push([`e2e round ${i + 1} api`, r.holdq.peak_rss_mib.api]);
    peaks.push([`e2e round ${i + 1} worker`, r.holdq.peak_rss_mib.worker]);
  });
  for (const ms of w?.latencies ?? []) {
    w[`${ms}ms`].rounds.forEach((r, i) => peaks.push([`worker ${ms} ms round ${i + 1}`, r.holdq.peak_rss_mib]));
  }
  if (f) peaks.push(['fairness api', f.holdq.peak_rss_mib.api], ['fairness worker', f.holdq.peak_rss_mib.worker]);
  return peaks;
}

function acceptSection(a) {
  const m = a.throughput;
  const round = a.rounds[m.index];
  const row = (name, x) =>
    `| ${name} | ${x.rps} | ${x.p50_ms} | ${x.p99_ms} | ${x.non2xx} / ${x.errors} | ${x.cpu_us_per_intent} | ${x.peak_rss_mib} |`;
  return [
    `## 1. Accept throughput (\`POST /v1/intents\`, 50 connections, autocannon, ${a.seconds} s after a 2 s warm-up)`,
    '',
    `The median round by throughput ratio (${roundNo(m)} of ${a.rounds.length}), both sides of it:`,
    '',
    '| | accepted intents/s (2xx only) | p50 ms | p99 ms | non-2xx / errors | CPU µs per accepted intent (API + Redis) | peak RSS MiB (VmHWM) |',
    '|---|---|---|---|---|---|---|',
    row('bare API', round.baseline),
    row('holdq API', round.holdq),
    row('holdq API with Node’s default flags (`NODE_OPTIONS=`)', round.holdq_uncapped),
    '',
    `- Throughput holdq/bare: **${m.ratio}** ${each(m)}.`,
    `- Intents per CPU-second (API and its Redis), holdq/bare: **${a.per_cpu.ratio}** ${each(a.per_cpu)}; median from ${roundNo(a.per_cpu)}.`,
    `- The image's heap cap, priced: holdq with the cap / without it, throughput ${a.heap_cap.ratio} ${each(a.heap_cap)}; peak RSS without it up to ${Math.max(...a.rounds.map((r) => r.holdq_uncapped.peak_rss_mib))} MiB.`,
    `- Non-2xx answers and errors, all rounds and sides: ${a.non2xx_and_errors}${a.non2xx_and_errors ? ' (**the run is not valid**: a refused request is not an accepted intent)' : ''}.`,
    '',
  ];
}

function e2eSection(e) {
  const lat = (x) => `${x.p50_ms} / ${x.p95_ms} / ${x.p99_ms}`;
  return [
    `## 2. End-to-end latency at a steady ${e.rate} intents/s for ${e.seconds} s (intent sent → the fake Plivo receives its transfer)`,
    '',
    'Every round (after a 2 s warm-up at 50/s, whose transfers all arrived before the fake was reset):',
    '',
    '| round | intents | bare p50 / p95 / p99 ms | holdq p50 / p95 / p99 ms | p50 holdq/bare | p99 holdq/bare | holdq peak RSS api / worker MiB |',
    '|---|---|---|---|---|---|---|',
    ...e.rounds.map(
      (r, i) =>
        `| ${i + 1} | ${r.holdq.intents} | ${lat(r.baseline)} | ${lat(r.holdq)} | ${e.p50.ratios[i]} | ${e.p99.ratios[i]} | ${r.holdq.peak_rss_mib.api} / ${r.holdq.peak_rss_mib.worker} |`,
    ),
    '',
    `Median of the rounds' ratios: p50 **${e.p50.ratio}** (${roundNo(e.p50)}), p99 **${e.p99.ratio}** (${roundNo(e.p99)}).`,
    '',
  ];
}

function workerSection(w) {
  return [
    `## 3. Worker throughput (${w.intents} queued intents, the rate limit out of the way, concurrency 50)`,
    '',
    'Per Plivo latency, the median round by throughput ratio, both sides of it:',
    '',
    '| fake Plivo latency | round | bare transfers/s | holdq transfers/s | holdq/bare | every round | CPU µs per intent (worker + Redis), bare / holdq | intents per CPU-second holdq/bare (median of rounds) | holdq peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|',
    ...w.latencies.map((ms) => {
      const { rounds, throughput: m, per_cpu: c } = w[`${ms}ms`];
      const r = rounds[m.index];
      return `| ${ms} ms${ms === 150 ? ' (judged)' : ' (the price of the guarantees, not judged)'} | ${m.index + 1} | ${r.baseline.per_second} | ${r.holdq.per_second} | **${m.ratio}** | ${m.ratios.join(', ')} | ${r.baseline.cpu_us_per_intent} / ${r.holdq.cpu_us_per_intent} | ${c.ratio} ${each(c)} | ${r.holdq.peak_rss_mib} |`;
    }),
    '',
  ];
}

function rateSection(r) {
  return [
    `## 4. Rate adherence: a burst of ${r.burst} queued intents with \`PLIVO_MAX_RPS=${r.plivo_max_rps}\` (holdq alone)`,
    '',
    '| most transfers in any 1 s window | drain time | ideal (burst ÷ rate) | drain / ideal | 429s (the fake enforces the same limit) |',
    '|---|---|---|---|---|',
    `| ${r.max_in_any_1s_window} | ${r.drain_s} s | ${r.ideal_drain_s} s | ${r.drain_vs_ideal} | ${r.http_429} |`,
    '',
  ];
}

function fairnessSection(f) {
  const s = f.shape;
  const { baseline: b, holdq: h } = f;
  const row = (name, pick) => `| ${name} | ${pick(b)} | ${pick(h)} |`;
  const answers = (x) => `${x.answers.bulk.non2xx} / ${x.answers.desk.non2xx}`;
  const desk = s.deskPerSecond * s.deskSeconds;
  return [
    `## 5. Fairness: a desk client's holds during a bulk burst, against the FIFO pipeline`,
    '',
    `Load, the same to both sides: a \`bulk\` client posts ${s.bulk} intents in ${s.burstMs / 1000} s (half \`hold\`, half \`transfer\`), each on a call of its own; a \`desk\` client posts ${s.deskPerSecond} \`hold\` intents a second for ${s.deskSeconds} s (${desk} holds, calls of their own), from ${s.deskStartMs / 1000} s after the burst began. The fake Plivo enforces ${s.plivoLimit.max} requests in any ${s.plivoLimit.windowMs / 1000} s (429 beyond). holdq: \`PLIVO_MAX_RPS=${s.maxRps}\`, the two clients on API keys of their own. The FIFO pipeline: the bare API and the bare worker with BullMQ's limiter at ${s.maxRps} per 1000 ms. One run per side.`,
    '',
    `A transfer is one request the fake Plivo received (a refused one too); a hold or a transfer intent is one on either side. A desk hold's wait runs from its POST to the first transfer of its call the fake accepted. With ${desk} desk holds the p99 is the slowest one.`,
    '',
    `| | FIFO pipeline (BullMQ limiter ${s.maxRps}/s) | holdq (\`PLIVO_MAX_RPS=${s.maxRps}\`) |`,
    '|---|---|---|',
    row(
      'desk holds wait p50 / p99 / max',
      (x) => `${fmt(x.desk_p50_ms, ' ms')} / ${fmt(x.desk_p99_ms, ' ms')} / ${fmt(x.desk_max_ms, ' ms')}`,
    ),
    row('desk holds that never reached Plivo', (x) => x.desk_missing),
    row('transfers', (x) => x.transfers),
    row('most transfers in any 1 s / any 5 s', (x) => `${x.max_in_any_1s_window} / ${x.max_in_any_5s_window}`),
    row('429s', (x) => x.http_429),
    row(
      `bulk drain (first transfer → last bulk transfer) / ideal (transfers in it ÷ ${s.maxRps}/s)`,
      (x) => `${fmt(x.drain_s, ' s')} / ${x.ideal_drain_s} s = **${fmt(x.drain_vs_ideal)}**`,
    ),
    row('bulk calls never reached Plivo', (x) => x.bulk_missing),
    row('non-2xx answers to the clients, bulk / desk', answers),
    row('the load ran behind its plan by at most', (x) => `${x.load_worst_lag_ms} ms`),
    row('the side took (load, drain)', (x) => `${x.side_s} s${x.drained_within_timeout ? '' : ' (timed out)'}`),
    '',
    `Desk p99 holdq/FIFO: **${fmt(f.desk_p99_ratio)}**.`,
    '',
  ];
}

function memorySection(results) {
  const peaks = rssPeaks(results);
  const w = results.worker;
  const lines = ['## 6. Memory', ''];
  if (peaks.length > 0) {
    const [where, top] = peaks.reduce((x, y) => (y[1] > x[1] ? y : x));
    lines.push(
      `Peak RSS (VmHWM, read at the end of each run) of any holdq process under the loads above, with the image's flags: **${top} MiB** (${where}).`,
    );
  }
  if (w?.['0ms']) {
    const m = w['0ms'].throughput;
    const bytes = w['0ms'].rounds[m.index].holdq.redis_bytes_per_retained_intent;
    lines.push(
      '',
      `Redis memory per retained (finished) intent: **${bytes} bytes** (used_memory after ${w.intents} completed intents, less the empty Redis, ÷ ${w.intents}; the 0 ms worker's median round).`,
    );
  }
  lines.push('');
  return lines;
}

function estimateSection(e) {
  const s = e.shape;
  const [under, over] = s.phases;
  const capacity = s.agents / s.handle.meanS;
  const names = {
    holdq: 'holdq (`estimated_wait_seconds` of `queue.joined`)',
    asterisk: 'Asterisk `announce-holdtime` (one figure for every position)',
    interval: `position × mean of the last ${s.lastIntervals} intervals between bridged callers`,
  };
  const ratio = { holdq: e.holdq_vs_asterisk, asterisk: 1, interval: e.interval_vs_asterisk };
  const cell = (x, k) => fmt(x[k].mae_s, ' s');
  const bias = (k) => `${fmt(e.by_phase[under.name][k].bias_s, ' s')} / ${fmt(e.by_phase[over.name][k].bias_s, ' s')}`;
  const row = (k) =>
    `| ${names[k]} | ${pct(e.overall[k].coverage)} (${e.overall[k].with_estimate}) | **${cell(e.overall, k)}** | ${cell(e.by_phase[under.name], k)} | ${cell(e.by_phase[over.name], k)} | ${bias(k)} | ${fmt(e.common_set[k], ' s')} | ${fmt(ratio[k])} |`;
  const prio = (p) => e.by_priority[`priority_${p}`];
  const agents = e.agents
    .map(
      (a) =>
        `agent ${a.agent}: ${a.served} callers, ${a.empty} empty dequeues${Object.keys(a.other).length ? `, other: ${JSON.stringify(a.other)}` : ''}`,
    )
    .join('; ');
  return [
    '## 7. Estimated wait against Asterisk’s announce-holdtime (a simulated contact center, holdq alone)',
    '',
    `A contact center against holdq as deployed (api and worker processes, one Redis, the fake Plivo answering in ${s.plivo.latencyMs}–${s.plivo.latencyMs + s.plivo.jitterMs} ms). Callers arrive as a seeded Poisson process (seed ${s.seed}, the same arrivals every run), each an \`enqueue\` intent to queue \`${s.queue}\`, ${Math.round(s.highPriority.share * 100)} % of them with priority ${s.highPriority.priority}, the rest 0: ${under.perSecond}/s for ${under.seconds} s (${under.name} capacity), then ${over.perSecond}/s for ${over.seconds} s (${over.name} it); then arrivals stop and the queue drains. ${s.agents} agents (capacity ${round(capacity)}/s at a mean handle time of ${s.handle.meanS} s) loop: a \`dequeue\` intent on a fresh agent call, and once it finished, a lognormal handle time (mean ${s.handle.meanS} s, σ ${s.handle.sigma}, ${s.handle.minS}–${s.handle.maxS} s) if it bridged a caller, or ${s.emptyRetryMs} ms if the queue was empty. Agent ${s.away.agent} stops taking callers at ${s.away.leaveS} s (after its current call) and is back at ${s.away.backS} s.`,
    '',
    `Everything is read from one event stream (\`GET /v1/events?queue=${s.queue}\`) held for the whole run, in its order. A caller's estimate is the \`estimated_wait_seconds\` of its \`queue.joined\`; its actual wait the \`wait_seconds\` of its \`queue.left\` with reason \`bridged\`. The naive estimators are computed by the bench from the same events as they stood at each \`queue.joined\`: Asterisk's holdtime (\`(3·holdtime + wait)/4\` at each bridged caller, seeded with the first bridged caller's wait instead of Asterisk's 0, no estimate before it; not rounded to Asterisk's minutes), and the caller's position × the mean of the last ${s.lastIntervals} intervals between bridged callers (none before two). MAE is over the bridged callers an estimator has an estimate for; the "common" column over the callers all three have one for. Phases are the caller's arrival phase.`,
    '',
    `| estimator | coverage (callers with an estimate) | MAE | MAE ${under.name} capacity | MAE ${over.name} capacity | mean error (estimate − wait) ${under.name} / ${over.name} | MAE on the ${e.common_set.callers} common callers | MAE ÷ Asterisk's |`,
    '|---|---|---|---|---|---|---|---|',
    row('holdq'),
    row('asterisk'),
    row('interval'),
    '',
    `- Callers: ${e.callers_posted} posted (answers ${JSON.stringify(e.enqueue_answers)}), ${e.joined} joined, ${e.bridged} bridged and judged (${e.overall.callers}: ${e.by_phase[under.name].callers} ${under.name}, ${e.by_phase[over.name].callers} ${over.name} capacity), ${e.never_bridged} never bridged by the end, ${e.left_otherwise} left otherwise. Mean actual wait: ${fmt(e.mean_wait_s[under.name], ' s')} ${under.name}, ${fmt(e.mean_wait_s[over.name], ' s')} ${over.name} capacity.`,
    `- holdq's coverage after the first ${s.warmupS} s: **${pct(e.after_warmup.holdq.coverage)}** (${e.after_warmup.holdq.with_estimate} of ${e.after_warmup.callers}); its MAE there ${fmt(e.after_warmup.holdq.mae_s, ' s')} against Asterisk's ${fmt(e.after_warmup.asterisk.mae_s, ' s')}.`,
    `- holdq by priority: priority 0 MAE ${fmt(prio(0).holdq.mae_s, ' s')} (mean error ${fmt(prio(0).holdq.bias_s, ' s')}, ${prio(0).callers} callers); priority ${s.highPriority.priority} MAE ${fmt(prio(s.highPriority.priority).holdq.mae_s, ' s')} (mean error ${fmt(prio(s.highPriority.priority).holdq.bias_s, ' s')}, ${prio(s.highPriority.priority).callers} callers). Asterisk: ${fmt(prio(0).asterisk.mae_s, ' s')} / ${fmt(prio(s.highPriority.priority).asterisk.mae_s, ' s')}.`,
    `- holdq's largest errors: ${e.holdq_worst.map((c) => `${c.call} (${c.phase}, priority ${c.priority}, joined at ${c.join_s} s at position ${c.position}, ${fmt(c.since_last_bridged_s, ' s')} after the last bridged caller): estimated ${c.holdq_s} s, waited ${c.wait_s} s`).join('; ')}.`,
    `- Agents: ${agents}.`,
    `- The run: arrivals ended at ${e.arrivals_end_s} s, the queue drained at ${e.scenario_s} s${e.drained_within_timeout ? '' : ' (**timed out**)'}; the load ran behind its plan by at most ${e.load_worst_lag_ms} ms. Events read: ${Object.entries(
      e.events_seen,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. The queue at the end: ${JSON.stringify(e.queue_at_end)}.`,
    `- Problems seen: ${problemList(e.problems)}.`,
    '',
    'Every caller (times from the start, s) is in the raw results below (`estimate.callers`).',
    '',
  ];
}

function eventsSection(ev) {
  const s = ev.shape;
  const h = ev.held;
  const m = ev.memory;
  const runRow = (r) =>
    r.skipped
      ? `| ${runSetup(r)} | | | | | | | |`
      : `| ${runSetup(r)}${r.api_died ? ' (**the API process died**)' : ''} | ${r.holds} in ${r.posting_took_s} s | ${r.events_per_second} | ${r.deliveries_per_second} | ${fmt(r.p50_ms)} / ${fmt(r.p90_ms)} / **${fmt(r.p99_ms)}** / ${fmt(r.max_ms)} | ${r.streams_short} / ${r.streams_ended} | ${r.cpu_percent.client} / ${fmt(r.cpu_percent.api)} / ${fmt(r.cpu_percent.worker)} / ${fmt(r.cpu_percent.redis)} | ${r.api_peak_rss_mib_so_far} |`;
  return [
    `## 8. Event streams (\`GET /v1/events\`): streams held, memory per stream, latency (holdq alone)`,
    '',
    `One API and one worker process, with the image's node flags (its heap cap too). After a ${s.warmupSeconds} s warm-up load the API's RSS is read with no stream open; then ${s.streams} streams are opened (${s.openBatch} at a time, each its own TCP connection from the bench, unfiltered), one probe \`hold\` is posted and every stream must receive its events; the RSS is read again 2 s later. Latency: hold intents at a steady rate for ${s.seconds} s (three events each: \`intent.accepted\`, \`call.held\`, \`intent.completed\`; ${round(s.eventsPerSecond / s.eventsPerHold)} holds/s make ${s.eventsPerSecond} events/s), and for every event on every receiving stream the time from its id's milliseconds (the Redis time of the change) to \`Date.now()\` when the chunk holding it reached the bench (one machine, one clock; whole ms). The bench process reads every stream, so with every stream receiving it competes for the 2 cores (its CPU is in the table). The runs go in the table's order; every stream receiving at the full rate goes last, as it is the one that can take the API down.`,
    '',
    '| streams requested | open | received the probe | the API’s gauge `holdq_event_streams` | opening them took | the probe reached every stream in |',
    '|---|---|---|---|---|---|',
    `| ${h.requested} | ${h.open} | ${h.received_probe} | ${fmt(h.server_gauge)} | ${h.open_took_ms} ms | ${h.probe_reached_all_ms} ms |`,
    '',
    `API memory: RSS ${m.idle.rssMiB} MiB with no stream, ${m.with_streams.rssMiB} MiB with ${h.open}: **${fmt(m.rss_per_stream_kib)} KiB per stream**; V8 heap used ${fmt(m.idle.heapMiB)} → ${fmt(m.with_streams.heapMiB)} MiB (${fmt(m.heap_per_stream_kib)} KiB per stream). Peak RSS over the whole measurement (VmHWM, sampled every 250 ms): API ${ev.peak_rss_mib.api} MiB, worker ${ev.peak_rss_mib.worker} MiB${ev.peak_rss_mib.api > RSS_TARGET_MIB ? ` (above the 150 MB target's ${RSS_TARGET_MIB} MiB; that target is judged on the loads of sections 1–5 only)` : ''}.`,
    '',
    `| set-up | holds posted (in, to the last answer) | events/s per stream (by their Redis times) | deliveries/s (all streams, by arrival) | latency p50 / p90 / p99 / max ms | streams short of events / ended | CPU % bench / api / worker / redis | API peak RSS so far, MiB |`,
    '|---|---|---|---|---|---|---|---|',
    ...ev.runs.map(runRow),
    '',
    `The API process ${ev.api_survived ? 'ran to the end' : '**did not survive the measurement**'}. Problems seen: ${problemList(ev.problems)}.`,
    '',
  ];
}

const round = (x) => Math.round(x * 100) / 100;

/**
 * JSON as JSON.stringify(value, null, 2) writes it, except that an array of plain values goes on
 * one line (a per-caller row, a per-second count): the raw results stay readable.
 */
function compactJson(value, indent = '') {
  if (value !== null && typeof value === 'object' && typeof value.toJSON === 'function')
    return compactJson(value.toJSON(), indent);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((x) => x === null || typeof x !== 'object'))
      return `[${value.map((x) => JSON.stringify(x) ?? 'null').join(', ')}]`;
    return `[\n${value.map((x) => inner + compactJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(
    ([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol',
  );
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner)}`).join(',\n')}\n${indent}}`;
}

export function renderReport(results, run) {
  const build = buildFacts(run.holdqDir, run.main);
  const targets = judge(results);
  const lines = [
    '# holdq benchmarks',
    '',
    `Written by \`npm run bench\` itself (this run: \`${run.command}\`${run.quick ? ', the quick variant' : ''}). Every figure here is what that run measured; nothing is edited by hand. Analysis kept by hand, each figure with the command that measured it, is in \`bench/findings.md\`.`,
    '',
    `- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; the run took ${run.minutes} min.`,
    `- Machine: ${machineFacts()}. Load average (1 min) when the run began: ${run.loadAtStart.toFixed(2)} (other work on the machine shares its cores with the bench).`,
    `- holdq: \`${build.main}\`${build.version ? `, package ${build.version}` : ''}${build.commit ? `, commit ${build.commit}${build.srcModified ? ' with src/ modified' : ''}` : ''}; api and worker as separate processes.`,
    `- Node flags of every process under test, holdq's and the baselines' alike: \`NODE_OPTIONS=${run.nodeFlags}\` (the Dockerfile's).`,
    `- Redis as shipped, a fresh one per run: AOF with \`appendfsync ${run.appendfsync}\`, \`noeviction\`. Log level \`${process.env.BENCH_LOG_LEVEL ?? 'info'}\` (an access line per request, as deployed).`,
    `- Baselines, in the same run on the same machine: a bare Express 5 app that only validates JSON and calls \`queue.add\` (\`bench/baseline-api.mjs\`), a bare BullMQ worker that only POSTs the transfer with got (\`bench/baseline-worker.mjs\`). Plivo is a minimal fake on loopback (\`bench/fake-plivo.mjs\`).`,
    `- ${run.rounds} interleaved bare/holdq round${run.rounds > 1 ? 's' : ''} per measurement (fairness, rate, estimate and events: one run, holdq's figures alone where no baseline runs); which side goes first rotates. A ratio is the median of the rounds' ratios, and a "median round" table shows both sides of the round that ratio comes from.`,
    '',
    '## Targets',
    '',
    '| target | measured | |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.name} | ${t.measured} | **${t.pass ? 'PASS' : 'FAIL'}** |`),
    '',
  ];
  if (results.accept) lines.push(...acceptSection(results.accept));
  if (results.e2e) lines.push(...e2eSection(results.e2e));
  if (results.worker) lines.push(...workerSection(results.worker));
  if (results.rate) lines.push(...rateSection(results.rate));
  if (results.fairness) lines.push(...fairnessSection(results.fairness));
  if (results.accept || results.e2e || results.worker || results.fairness) lines.push(...memorySection(results));
  if (results.estimate) lines.push(...estimateSection(results.estimate));
  if (results.events) lines.push(...eventsSection(results.events));
  lines.push(
    '## Reproduce',
    '',
    '```sh',
    'npm ci && npm run bench -- --write BENCHMARKS.md   # all measurements; rewrites this file',
    'npm run bench -- --quick                         # 1 round, shorter loads (prints, writes nothing)',
    'npm run bench -- --only fairness                 # some measurements: accept,e2e,worker,rate,fairness,estimate,events',
    'npm run bench -- --rounds 5                      # more rounds (an odd number)',
    'npm run bench -- --holdq-dir ../other-checkout   # measure another build (its dist/)',
    '```',
    '',
    'Raw results:',
    '',
    '```json',
    compactJson(results),
    '```',
    '',
  );
  return { markdown: lines.join('\n'), targets };
}

// Shared process plumbing for `npm run chaos` and `npm run bench`: everything runs on
// loopback, every process is ours, every loop is bounded in count and time.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(check, { timeoutMs = 20_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Whether anything accepts connections on a loopback port. */
export const portOpen = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.end(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });

/** A private redis-server; `aof` turns on appendonly with the given fsync policy. */
export async function startRedis({ port, dir, aof = 'everysec' } = {}) {
  port ??= await freePort();
  dir ??= mkdtempSync(join(tmpdir(), 'holdq-bench-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    '--maxmemory-policy',
    'noeviction',
  ];
  if (aof) args.push('--appendonly', 'yes', '--appendfsync', aof);
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  await waitFor(() => portOpen(port), { what: `redis on ${port}` });
  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    child,
    kill(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `node dist/main.js <role>` (or any node script) as a child process, logs to a file. */
export function startNode(args, env, logFile) {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  return {
    child,
    pid: child.pid,
    kill(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
}

export async function waitHttp(url, timeoutMs = 30_000) {
  await waitFor(async () => (await fetch(url)).ok, { timeoutMs, what: url });
}

/** CPU time of a process (all its threads) or of its main thread alone, in ms (Linux /proc). */
export function cpuMs(pid, mainThreadOnly = false) {
  const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ');
  return (Number(stat[11]) + Number(stat[12])) * 10;
}

/** Resident set size of a process, in MiB (Linux /proc). */
export async function rssMiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** The peak resident set of a process so far (the kernel's VmHWM), in MiB (Linux /proc). */
export function peakRssMiB(pid) {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** The most of `times` (ms, any order) that fall in any window of `windowMs` (sliding, half-open). */
export function maxInAnyWindow(times, windowMs) {
  const t = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** A poster of one hold intent, for a call id, to an API's `POST /v1/intents` (for `steady`). */
export const postIntent = (url, headers) => (call) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ type: 'hold', call_uuid: call }),
  }).then((r) => r.arrayBuffer());

/** Queues `n` hold intents (calls `${prefix}-0`…), 100 at a time; each must be accepted (202). */
export async function preload(url, headers, n, prefix) {
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, k) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ type: 'hold', call_uuid: `${prefix}-${i + k}` }),
        }).then((r) => {
          if (r.status !== 202) throw new Error(`preload got ${r.status}`);
          return r.arrayBuffer();
        }),
      ),
    );
  }
}

/**
 * `rate` intents a second for `seconds`, in 50 ms ticks, to every target at the same moments
 * (a target posts one intent for a call id); returns, per target, each call's send time.
 */
export async function steady(targets, rate, seconds, prefix) {
  const sent = targets.map(() => new Map());
  const inflight = [];
  const started = performance.now();
  let i = 0;
  for (let tick = 0; tick < seconds * 20; tick++) {
    for (const due = Math.floor(((tick + 1) / 20) * rate); i < due; i++) {
      const call = `${prefix}-${i}`;
      targets.forEach((post, t) => {
        sent[t].set(call, performance.timeOrigin + performance.now());
        inflight.push(post(call));
      });
    }
    await sleep(Math.max(0, started + (tick + 1) * 50 - performance.now()));
  }
  await Promise.all(inflight);
  return sent;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Two decimals, for ratios in reports. */
export const round2 = (x) => Math.round(x * 100) / 100;

/**
 * The median round of a measurement: the round whose `ratioOf` is the median of every
 * round's. With an odd number of rounds that is one real round, so a table can show both
 * sides of it and agree with the headline ratio. Returns the median ratio, the round's index
 * (0-based) and every round's ratio (rounded, in round order).
 */
export function medianRound(rounds, ratioOf) {
  if (rounds.length % 2 === 0)
    throw new Error(`medianRound: ${rounds.length} rounds; an odd number has a median round`);
  const ratios = rounds.map(ratioOf);
  const index = ratios.map((r, i) => [r, i]).sort((a, b) => a[0] - b[0])[(rounds.length - 1) / 2][1];
  return { ratio: round2(ratios[index]), index, ratios: ratios.map(round2) };
}

/** The API key of every process the benchmarks start. */
export const BENCH_KEY = 'bench-secret-0123456789';

/** The node flags the image runs holdq with: the Dockerfile's NODE_OPTIONS (read from the checkout). */
export const IMAGE_NODE_OPTIONS =
  /^ENV NODE_OPTIONS="([^"]*)"/m.exec(readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8'))?.[1] ?? '';

/**
 * The environment of a process under a benchmark: Redis and the fake Plivo given, the Plivo
 * rate and the per-client intent limit on (as deployed) but never binding, logs as deployed.
 * holdq gets the image's node flags; a baseline (`baseline: true`) Node's defaults.
 */
export function benchEnv({ redisUrl, plivoUrl, port, metricsPort, baseline = false, ...extra }) {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: baseline ? 'baseline' : 'holdq',
    API_KEYS: `bench:${BENCH_KEY}`,
    PLIVO_AUTH_ID: 'BENCH',
    PLIVO_AUTH_TOKEN: 'bench-token',
    PLIVO_BASE_URL: plivoUrl,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    PLIVO_MAX_RPS: '10000',
    API_RATE_LIMIT_RPS: '1000000',
    WORKER_CONCURRENCY: '50',
    // The fake Plivo keeps no live calls: reconciliation would end every caller older than a minute.
    RECONCILE_INTERVAL_SECONDS: '0',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    NODE_OPTIONS: baseline ? '' : IMAGE_NODE_OPTIONS,
    ...extra,
  };
}

// npm run bench:redis: what one intent costs Redis, for the scale-out arithmetic in
// docs/architecture.md ("Where one Redis becomes the limit"). holdq (api and worker as
// processes, as deployed) and the bare pipeline each on a Redis of their own, a fast fake
// Plivo; after a warm-up, Redis's counters are reset (CONFIG RESETSTAT), `rate` hold intents
// a second are posted for `seconds`, and once every transfer reached the fake, Redis's
// INFO commandstats and the redis-server process's CPU time are read. Then the same Redis is
// watched for `idle` seconds with no load, for what the processes cost it doing nothing.
// Reports, per intent: commands Redis executed (a script's own calls included: Redis counts
// them in commandstats), scripts run, Redis CPU in microseconds; and the intents a second one
// Redis core would take at that cost. Loopback only; bounded in requests and time.
//   --rate N (200)  --seconds N (10)  --idle N (10)  --holdq-dir D (this checkout)
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakePlivo } from './fake-plivo.mjs';
import { cpuMs, IMAGE_NODE_OPTIONS, postIntent, sleep, steady, waitFor } from './lib.mjs';
import { benchSides, holdqMain } from './sides.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    idle: { type: 'string', default: '10' },
    'holdq-dir': { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
  },
});
const RATE = Number(opts.rate);
const SECONDS = Number(opts.seconds);
const IDLE = Number(opts.idle);
for (const [name, v] of Object.entries({ rate: RATE, seconds: SECONDS, idle: IDLE }))
  if (!Number.isFinite(v) || v <= 0 || v > 2000) throw new Error(`--${name} ${v}: a number in (0, 2000]`);

const logDir = mkdtempSync(join(os.tmpdir(), 'holdq-bench-redis-cost-'));
const sides = benchSides({
  logDir,
  main: holdqMain(opts['holdq-dir']),
  nodeOptions: IMAGE_NODE_OPTIONS,
  appendfsync: 'everysec',
});

const cli = (port, ...args) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });

/** INFO commandstats as { command: calls }. */
function commandStats(port) {
  const stats = {};
  for (const m of cli(port, 'info', 'commandstats').matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    stats[m[1]] = Number(m[2]);
  return stats;
}

/** The commands that run a script: each counts once here, and its own calls count under their names. */
const SCRIPT_COMMANDS = new Set(['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro']);

async function costOnce(who) {
  return sides.withRedis(async (redis) => {
    const plivo = await startFakePlivo();
    let api;
    let worker;
    try {
      if (who === 'holdq') {
        const env = await sides.holdqEnv(redis, plivo, { LOG_LEVEL: 'warn' });
        worker = await sides.holdqWorker(env);
        api = await sides.holdqApi(env);
      } else {
        worker = await sides.baselineWorker(redis, plivo);
        api = await sides.baselineApi(redis);
      }
      const post = postIntent(`${api.url}${api.path}`, api.headers);
      const until = async (sent) =>
        waitFor(() => new Set(plivo.received.map((r) => r[1])).size >= sent.size, {
          timeoutMs: 60_000,
          what: 'every transfer',
        });
      const [warm] = await steady([post], 50, 2, `warm-${who}`);
      await until(warm);
      await sleep(1000); // what finishing the warm-up leaves behind (completions, events) lands first
      plivo.reset();
      cli(redis.port, 'config', 'resetstat');
      const cpu0 = cpuMs(redis.pid);
      const [sent] = await steady([post], RATE, SECONDS, who);
      await until(sent);
      await sleep(500);
      const cpu1 = cpuMs(redis.pid);
      const busy = commandStats(redis.port);
      cli(redis.port, 'config', 'resetstat');
      await sleep(IDLE * 1000);
      const cpu2 = cpuMs(redis.pid);
      const idle = commandStats(redis.port);
      const total = (s) => Object.values(s).reduce((a, b) => a + b, 0);
      const n = sent.size;
      const top = Object.entries(busy)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([cmd, calls]) => [cmd, Math.round((calls / n) * 10) / 10]);
      const topObject = Object.fromEntries(top);
      const scripts = Object.entries(busy)
        .filter(([cmd]) => SCRIPT_COMMANDS.has(cmd))
        .reduce((a, [, c]) => a + c, 0);
      const cpuUsPerIntent = ((cpu1 - cpu0) * 1000) / n;
      return {
        intents: n,
        commands_per_intent: Math.round((total(busy) / n) * 10) / 10,
        scripts_per_intent: Math.round((scripts / n) * 10) / 10,
        redis_cpu_us_per_intent: Math.round(cpuUsPerIntent),
        intents_per_redis_core: Math.round(1e6 / cpuUsPerIntent),
        top_commands_per_intent: topObject,
        idle_commands_per_second: Math.round(total(idle) / IDLE),
        idle_redis_cpu_percent: Math.round(((cpu2 - cpu1) / (IDLE * 1000)) * 1000) / 10,
      };
    } finally {
      await api?.kill();
      await worker?.kill();
      await plivo.stop();
    }
  });
}

const result = { rate: RATE, seconds: SECONDS, node: process.version };
for (const who of ['baseline', 'holdq']) result[who] = await costOnce(who);
result.ratio_commands =
  Math.round((result.holdq.commands_per_intent / result.baseline.commands_per_intent) * 100) / 100;
result.ratio_cpu =
  Math.round((result.holdq.redis_cpu_us_per_intent / result.baseline.redis_cpu_us_per_intent) * 100) / 100;
console.log(JSON.stringify(result, null, 2));
console.error(`logs: ${logDir}`);

// The two sides every measurement of `npm run bench` starts: holdq as deployed (api and
// worker as separate processes, from a build directory) and the bare baseline (bench/
// baseline-api.mjs, bench/baseline-worker.mjs), each on a Redis of its own. Both sides run
// with the same node flags (`nodeOptions`, the image's unless told otherwise): like for like.
// Every process is ours, on loopback; logs go to files in `logDir`.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BENCH_KEY, benchEnv, freePort, sleep, startNode, startRedis, waitHttp } from './lib.mjs';

/** holdq's main.js in `dir`: a build directory itself, or a checkout with dist/ inside. */
export function holdqMain(dir) {
  const found = [resolve(dir, 'dist'), resolve(dir)].find((d) => existsSync(join(d, 'main.js')));
  if (!found) throw new Error(`${dir}: no main.js there or in its dist/ (run npm run build there first)`);
  return join(found, 'main.js');
}

export function benchSides({ logDir, main, nodeOptions, appendfsync }) {
  /** holdq's environment on `redis` and `plivo` (benchEnv), with `extra` on top. */
  async function holdqEnv(redis, plivo, extra = {}) {
    const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
    return benchEnv({
      redisUrl: redis.url,
      plivoUrl: plivo.url,
      port,
      metricsPort,
      NODE_OPTIONS: nodeOptions,
      ...extra,
    });
  }

  async function holdqApi(env, headers = { authorization: `Bearer ${BENCH_KEY}` }) {
    const p = startNode([main, 'api'], env, join(logDir, 'holdq-api.log'));
    await waitHttp(`http://127.0.0.1:${env.PORT}/readyz`);
    return { ...p, url: `http://127.0.0.1:${env.PORT}`, path: '/v1/intents', headers };
  }

  async function holdqWorker(env) {
    const p = startNode([main, 'worker'], env, join(logDir, 'holdq-worker.log'));
    await waitHttp(`http://127.0.0.1:${env.METRICS_PORT}/readyz`);
    return p;
  }

  async function baselineApi(redis, extra = {}) {
    const port = await freePort();
    const p = startNode(
      ['bench/baseline-api.mjs'],
      { PORT: String(port), REDIS_URL: redis.url, QUEUE_PREFIX: 'baseline', NODE_OPTIONS: nodeOptions, ...extra },
      join(logDir, 'baseline-api.log'),
    );
    await waitHttp(`http://127.0.0.1:${port}/livez`);
    return { ...p, url: `http://127.0.0.1:${port}`, path: '/v1/intents', headers: {} };
  }

  /** The bare worker; `extra` may turn on BullMQ's limiter (BASELINE_LIMITER_MAX / _MS). */
  async function baselineWorker(redis, plivo, extra = {}) {
    const p = startNode(
      ['bench/baseline-worker.mjs'],
      {
        REDIS_URL: redis.url,
        QUEUE_PREFIX: 'baseline',
        PLIVO_BASE_URL: plivo.url,
        WORKER_CONCURRENCY: '50',
        NODE_OPTIONS: nodeOptions,
        ...extra,
      },
      join(logDir, 'baseline-worker.log'),
    );
    await sleep(500); // it has no ready signal; BullMQ connects well within this
    return p;
  }

  /** A fresh Redis per measurement, configured as shipped (AOF, `appendfsync`, noeviction). */
  async function withRedis(fn) {
    const redis = await startRedis({ aof: appendfsync });
    try {
      return await fn(redis);
    } finally {
      await redis.kill();
      redis.cleanup();
    }
  }

  return { holdqEnv, holdqApi, holdqWorker, baselineApi, baselineWorker, withRedis };
}

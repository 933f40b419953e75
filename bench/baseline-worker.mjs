// The baseline worker: a bare BullMQ worker that only POSTs the transfer with got.
// node bench/baseline-worker.mjs  (REDIS_URL, QUEUE_PREFIX, PLIVO_BASE_URL, WORKER_CONCURRENCY)
// BASELINE_LIMITER_MAX=N turns on BullMQ's own rate limiter, N jobs per BASELINE_LIMITER_MS (default
// 1000): the bare pipeline's way of keeping under Plivo's rate, one FIFO line for every client.
import http from 'node:http';
import { Worker } from 'bullmq';
import got from 'got';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const client = got.extend({
  prefixUrl: process.env.PLIVO_BASE_URL,
  agent: { http: new http.Agent({ keepAlive: true, maxSockets: 256 }) },
  retry: { limit: 0 },
  timeout: { request: 5000 },
});
const limiterMax = Number(process.env.BASELINE_LIMITER_MAX ?? 0);
const limiter =
  limiterMax > 0 ? { max: limiterMax, duration: Number(process.env.BASELINE_LIMITER_MS ?? 1000) } : undefined;
const worker = new Worker(
  'intent-jobs',
  async (job) => {
    await client.post(`v1/Account/BENCH/Call/${job.data.call_uuid}/`, {
      json: { legs: 'aleg', aleg_url: 'http://127.0.0.1/x', aleg_method: 'POST' },
    });
  },
  {
    connection: redis,
    prefix: process.env.QUEUE_PREFIX ?? 'baseline',
    concurrency: Number(process.env.WORKER_CONCURRENCY ?? 50),
    ...(limiter ? { limiter } : {}),
  },
);
process.on('SIGTERM', () => worker.close().then(() => process.exit(0)));

// A screenshot of the wallboard at 1920×1080 with a few queues, callers and calls on hold, for
// the README (docs/wallboard.png): `npm run build && node scripts/wallboard-screenshot.mjs [out.png]`.
// Runs holdq's API and worker from dist/ in this process, on the Redis at REDIS_URL (under a key
// prefix of its own), against the built-in Plivo simulator, and drives Debian's headless
// Chromium (CHROMIUM_PATH, default /usr/bin/chromium) with playwright-core.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { startApi } from '../dist/api/start-api.js';
import { loadConfig } from '../dist/config.js';
import { createLogger } from '../dist/observability/logger.js';
import { createMetrics } from '../dist/observability/metrics.js';
import { startSimulator } from '../dist/simulator/plivo-simulator.js';
import { startWorker } from '../dist/worker/start-worker.js';

const out = process.argv[2] ?? 'docs/wallboard.png';
const KEY = 'wallboard-screenshot-0123456789';
const READ = 'wallboard-viewer-0123456789';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const sim = await startSimulator({ autoCreateCalls: true });
const port = await freePort();
const config = loadConfig({
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: `shot${randomUUID().slice(0, 6)}`,
  PORT: String(port),
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  PUBLIC_BASE_URL_CHECK: 'false',
  PLIVO_AUTH_ID: sim.authId,
  PLIVO_AUTH_TOKEN: sim.authToken,
  PLIVO_BASE_URL: sim.url,
  API_KEYS: `desk:${KEY}`,
  READ_KEYS: `floor:${READ}`,
  API_RATE_LIMIT_RPS: '0',
  LOG_LEVEL: 'warn',
  QUEUES: JSON.stringify({
    billing: { service_level_seconds: 30 },
    sales: { service_level_seconds: 20 },
    support: { service_level_seconds: 20 },
    priority: { service_level_seconds: 1 },
  }),
});
const logger = createLogger('warn');
const registry = new Registry();
const metrics = createMetrics(registry, { defaults: false });
const worker = await startWorker(config, { logger, registry, metrics, opsPort: null });
const api = await startApi(config, { logger, registry, metrics, observeJobs: false });
const base = `http://127.0.0.1:${port}`;

async function post(body) {
  const res = await fetch(`${base}/v1/intents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const intent = await res.json();
  for (;;) {
    const r = await (
      await fetch(`${base}/v1/intents/${intent.id}`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json();
    if (['completed', 'failed', 'superseded'].includes(r.status)) return r;
    await sleep(20);
  }
}
const call = (i) => `CA${randomUUID().replaceAll('-', '').slice(0, 14)}${i}`;

// History first: support answers its callers at once (on target); priority answers late (below it).
for (let i = 0; i < 4; i++) {
  await post({ type: 'enqueue', call_uuid: call(i), queue: 'support' });
  await post({ type: 'dequeue', queue: 'support', agent_call_uuid: call(`a${i}`) });
}
await post({ type: 'enqueue', call_uuid: call('p'), queue: 'sales' });
await post({ type: 'dequeue', queue: 'sales', agent_call_uuid: call('sa') });
for (let i = 0; i < 2; i++) await post({ type: 'enqueue', call_uuid: call(`p${i}`), queue: 'priority' });
await sleep(1500);
await post({ type: 'dequeue', queue: 'priority', agent_call_uuid: call('pa') });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
const page = await browser.newPage({
  viewport: { width: Number(process.env.SHOT_WIDTH ?? 1920), height: Number(process.env.SHOT_HEIGHT ?? 1080) },
});
await page.goto(`${base}/wallboard`);
await page.fill('#key', READ);
await page.click('#sign-in-form button[type=submit]');
await page.locator('#board').waitFor();

// Then the floor as it is now: callers waiting, some on hold.
for (let i = 0; i < 6; i++) await post({ type: 'enqueue', call_uuid: call(`s${i}`), queue: 'support' });
for (let i = 0; i < 2; i++) await post({ type: 'enqueue', call_uuid: call(`b${i}`), queue: 'sales' });
for (let i = 0; i < 4; i++) await post({ type: 'hold', call_uuid: call(`h${i}`) });
await post({ type: 'enqueue', call_uuid: call('x'), queue: 'billing' });
await post({ type: 'dequeue', queue: 'billing', agent_call_uuid: call('ba') });
await sleep(Number(process.env.SHOT_WAIT_MS ?? 4000));
await page.screenshot({ path: out });
console.log(`wrote ${out}`);
await browser.close();
await api.stop();
await worker.stop();
await sim.stop();
